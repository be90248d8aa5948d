package providers_test

import (
	"crypto/x509"
	"encoding/pem"
	"strconv"
	"testing"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

func TestBoxCheck(t *testing.T) {
	t.Parallel()
	const (
		secret     = "box-client-secret"
		refresh    = "box-refresh-token"
		passphrase = "box-key-passphrase"
	)
	key, other := providertest.NewKeyPair(t), providertest.NewKeyPair(t)
	d := providertest.NewBox(t, "box-client", secret, refresh, "9001", "pubkey1", key)
	d.AddUser("777")
	cfg := func(kv ...string) providers.Config {
		creds := map[string]any{"client_id": "box-client", "client_secret": secret}
		c := providers.Config{"credentials": creds}
		for i := 0; i < len(kv); i += 2 {
			if kv[i] == "folder_id" {
				c["folder_id"] = kv[i+1]
			} else {
				creds[kv[i]] = kv[i+1]
			}
		}
		return c
	}
	jwt := func(kv ...string) providers.Config {
		return cfg(append([]string{"type", "jwt", "jwt_key_id", "pubkey1", "enterprise_id", "9001"}, kv...)...)
	}
	encrypted8 := key.EncryptedPKCS8PEM(t, passphrase)
	encrypted1 := key.EncryptedPKCS1PEM(t, passphrase)
	secrets := []string{secret, refresh, passphrase, "wrong-box-secret", "nope-refresh", "nope-pass"}
	for _, p := range []string{key.PKCS8PEM, key.PKCS1PEM, encrypted8, encrypted1, other.PKCS8PEM} {
		secrets = append(secrets, pemLines(p)...)
	}
	runDirect(t, "box", d, &d.Requests, secrets, []directCase{
		{name: "oauth", cfg: cfg("type", "oauth", "refresh_token", refresh), ok: true, want: "read folder 0", step: "read folder", calls: 2},
		{name: "oauth, bad refresh token", cfg: cfg("type", "oauth", "refresh_token", "nope-refresh"), ok: false,
			want: "authentication refused by the provider (HTTP 400 Bad Request (invalid_grant))", step: "authenticate", calls: 1},
		{name: "oauth, wrong client secret", cfg: cfg("type", "oauth", "refresh_token", refresh, "client_secret", "wrong-box-secret"), ok: false,
			want: "authentication refused by the provider (HTTP 400 Bad Request (invalid_client))", step: "authenticate", calls: 1},
		{name: "ccg, enterprise", cfg: cfg("type", "ccg", "enterprise_id", "9001"), ok: true, want: "read folder 0", step: "read folder", calls: 2},
		{name: "ccg, user", cfg: cfg("type", "ccg", "user_id", "777", "folder_id", "12345"), ok: true, want: "read folder 12345", step: "read folder", calls: 2},
		{name: "ccg, user the app cannot act as", cfg: cfg("type", "ccg", "user_id", "778"), ok: false, want: "invalid_grant", step: "authenticate", calls: 1},
		{name: "ccg, wrong client secret", cfg: cfg("type", "ccg", "enterprise_id", "9001", "client_secret", "wrong-box-secret"), ok: false, want: "invalid_client", step: "authenticate", calls: 1},
		{name: "ccg without a subject", cfg: cfg("type", "ccg"), ok: false, want: "enterprise_id or user_id", step: "read credentials", calls: 0},
		{name: "jwt, PKCS#8 key", cfg: jwt("private_key", key.PKCS8PEM), ok: true, want: "read folder 0", step: "read folder", calls: 2},
		{name: "jwt, PKCS#1 key", cfg: jwt("private_key", key.PKCS1PEM), ok: true, want: "read folder", step: "read folder", calls: 2},
		{name: "jwt, encrypted PKCS#8 key (Box console)", cfg: jwt("private_key", encrypted8, "private_key_passphrase", passphrase), ok: true, want: "read folder", step: "read folder", calls: 2},
		{name: "jwt, legacy encrypted PEM key", cfg: jwt("private_key", encrypted1, "private_key_passphrase", passphrase), ok: true, want: "read folder", step: "read folder", calls: 2},
		{name: "jwt, wrong passphrase", cfg: jwt("private_key", encrypted8, "private_key_passphrase", "nope-pass"), ok: false, want: "the private key passphrase is wrong", step: "read credentials", calls: 0},
		{name: "jwt, legacy key with wrong passphrase", cfg: jwt("private_key", encrypted1, "private_key_passphrase", "nope-pass"), ok: false, want: "the private key passphrase is wrong", step: "read credentials", calls: 0},
		{name: "jwt, encrypted key without passphrase", cfg: jwt("private_key", encrypted8), ok: false, want: "no passphrase is set", step: "read credentials", calls: 0},
		{name: "jwt, garbage key", cfg: jwt("private_key", "-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n"), ok: false,
			want: "private_key is not a PEM RSA key", step: "read credentials", calls: 0},
		{name: "jwt, signed by another key", cfg: jwt("private_key", other.PKCS8PEM), ok: false,
			want: "authentication refused by the provider (HTTP 400 Bad Request (invalid_grant))", step: "authenticate", calls: 1},
		{name: "jwt, wrong jwt_key_id", cfg: jwt("private_key", key.PKCS8PEM, "jwt_key_id", "pubkey2"), ok: false, want: "invalid_grant", step: "authenticate", calls: 1},
		{name: "jwt, another enterprise", cfg: jwt("private_key", key.PKCS8PEM, "enterprise_id", "9002"), ok: false, want: "invalid_grant", step: "authenticate", calls: 1},
		{name: "folder not found", cfg: cfg("type", "ccg", "enterprise_id", "9001", "folder_id", "404404"), ok: false,
			want: "the folder was not found", step: "read folder", calls: 2},
	})
	expiredCheck(t, "box", d, &d.Requests, cfg("type", "oauth", "refresh_token", refresh))
}

// A wrong passphrase whose padding happens to check out (1 in 256) is still
// a wrong passphrase, for the legacy PEM encryption as for PKCS#8.
func TestLegacyKeyWithAWrongPassphraseThatPadsCleanly(t *testing.T) {
	t.Parallel()
	key := providertest.NewKeyPair(t)
	encrypted := key.EncryptedPKCS1PEM(t, "the-right-passphrase")
	block, _ := pem.Decode([]byte(encrypted))
	lucky := ""
	for i := 0; i < 100000 && lucky == ""; i++ {
		p := "wrong-" + strconv.Itoa(i)
		//lint:ignore SA1019 the legacy form is what is under test
		if _, err := x509.DecryptPEMBlock(block, []byte(p)); err == nil {
			lucky = p
		}
	}
	if lucky == "" {
		t.Fatal("no wrong passphrase with clean padding found")
	}
	cfg := providers.Config{"credentials": map[string]any{"type": "jwt", "client_id": "c", "client_secret": "s",
		"enterprise_id": "1", "jwt_key_id": "k", "private_key": encrypted, "private_key_passphrase": lucky}}
	expectResult(t, rawCheck(t, "box", cfg, providers.Env{}), false, "the private key passphrase is wrong", lucky)
}
