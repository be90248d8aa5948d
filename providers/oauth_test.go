package providers_test

import (
	"strings"
	"testing"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

type checkCase struct {
	name string
	cfg  providers.Config
	ok   bool
	want string
}

func runCases(t *testing.T, provider string, env providers.Env, secrets []string, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, provider, tc.cfg, env)
			if res.Success != tc.ok || !strings.Contains(res.Message, tc.want) {
				t.Fatalf("got %+v, want %v %q", res, tc.ok, tc.want)
			}
			assertNoSecret(t, res, secrets...)
		})
	}
}

func TestGoogleDriveCheck(t *testing.T) {
	t.Parallel()
	key, other := providertest.NewKeyPair(t), providertest.NewKeyPair(t)
	d := providertest.NewGoogle(t, key, "sync@proj.iam.gserviceaccount.com", "client-1", "gd-client-secret", "1//gd-refresh-token")
	sa := func(pem, email string) providers.Config {
		return providers.Config{"credentials": map[string]any{"type": "service_account", "project_id": "proj", "private_key_id": "kid1",
			"private_key": pem, "client_email": email, "client_id": "123"}}
	}
	oauth := func(secret, refresh string) providers.Config {
		return providers.Config{"shared_drive_id": "0AH-drive", "credentials": map[string]any{"type": "oauth", "client_id": "client-1", "client_secret": secret, "refresh_token": refresh}}
	}
	missing := sa(key.PKCS8PEM, "sync@proj.iam.gserviceaccount.com")
	missing["shared_drive_id"] = "missing-drive"
	runCases(t, "google_drive", localEnv(d.Endpoints()), []string{"gd-client-secret", "1//gd-refresh-token", "wrong-gd-secret", "MII"}, []checkCase{
		{"service account (PKCS#8)", sa(key.PKCS8PEM, "sync@proj.iam.gserviceaccount.com"), true, "listed files"},
		{"service account (PKCS#1)", sa(key.PKCS1PEM, "sync@proj.iam.gserviceaccount.com"), true, "listed files"},
		{"service account signed by another key", sa(other.PKCS8PEM, "sync@proj.iam.gserviceaccount.com"), false, "invalid_grant"},
		{"garbage private key", sa("not a key", "sync@proj.iam.gserviceaccount.com"), false, "private_key is not a PEM RSA key"},
		{"oauth refresh token", oauth("gd-client-secret", "1//gd-refresh-token"), true, "listed files"},
		{"oauth wrong client secret", oauth("wrong-gd-secret", "1//gd-refresh-token"), false, "authentication refused"},
		{"oauth revoked refresh token", oauth("gd-client-secret", "1//revoked"), false, "invalid_grant"},
		{"shared drive not found", missing, false, "not found"},
	})
}

func TestSharePointCheck(t *testing.T) {
	t.Parallel()
	d := providertest.NewSharePoint(t, "tenant-1", "app-1", "sp-client-secret", "sp-refresh-token")
	cc := func(tenant, secret, site string) providers.Config {
		c := providers.Config{"credentials": map[string]any{"type": "client_credentials", "tenant_id": tenant, "client_id": "app-1", "client_secret": secret}}
		if site != "" {
			c["site_id"] = site
		}
		return c
	}
	delegated := func(refresh string) providers.Config {
		return providers.Config{"drive_id": "b!drive", "credentials": map[string]any{"type": "delegated", "tenant_id": "tenant-1", "client_id": "app-1",
			"client_secret": "sp-client-secret", "refresh_token": refresh}}
	}
	runCases(t, "sharepoint", localEnv(d.Endpoints()), []string{"sp-client-secret", "sp-refresh-token", "wrong-sp-secret"}, []checkCase{
		{"client credentials, root site", cc("tenant-1", "sp-client-secret", ""), true, "read site"},
		{"client credentials, named site", cc("tenant-1", "sp-client-secret", "contoso.sharepoint.com,1,2"), true, "read site"},
		{"wrong client secret", cc("tenant-1", "wrong-sp-secret", ""), false, "invalid_client"},
		{"unknown tenant", cc("tenant-x", "sp-client-secret", ""), false, "invalid_request"},
		{"site not found", cc("tenant-1", "sp-client-secret", "missing-site"), false, "not found"},
		{"delegated, drive", delegated("sp-refresh-token"), true, "read drive"},
		{"delegated, bad refresh token", delegated("bad-refresh"), false, "invalid_grant"},
	})
}

func TestBoxCheck(t *testing.T) {
	t.Parallel()
	key, other := providertest.NewKeyPair(t), providertest.NewKeyPair(t)
	d := providertest.NewBox(t, "box-client", "box-client-secret", "box-refresh-token", "9001", "pubkey1", key)
	creds := func(kv ...string) providers.Config {
		c := map[string]any{"client_id": "box-client", "client_secret": "box-client-secret"}
		for i := 0; i < len(kv); i += 2 {
			c[kv[i]] = kv[i+1]
		}
		return providers.Config{"credentials": c}
	}
	withFolder := creds("type", "ccg", "enterprise_id", "9001")
	withFolder["folder_id"] = "777"
	encrypted := key.EncryptedPKCS1PEM(t, "box-passphrase")
	runCases(t, "box", localEnv(d.Endpoints()), []string{"box-client-secret", "box-refresh-token", "box-passphrase", "wrong-box-secret"}, []checkCase{
		{"oauth", creds("type", "oauth", "refresh_token", "box-refresh-token"), true, "read folder All Files"},
		{"oauth bad refresh token", creds("type", "oauth", "refresh_token", "nope"), false, "invalid_grant"},
		{"ccg enterprise", creds("type", "ccg", "enterprise_id", "9001"), true, "read folder"},
		{"ccg wrong secret", providers.Config{"credentials": map[string]any{"type": "ccg", "client_id": "box-client", "client_secret": "wrong-box-secret", "enterprise_id": "9001"}}, false, "invalid_client"},
		{"jwt", creds("type", "jwt", "public_key_id", "pubkey1", "private_key", key.PKCS8PEM, "enterprise_id", "9001"), true, "read folder"},
		{"jwt with encrypted key", creds("type", "jwt", "public_key_id", "pubkey1", "private_key", encrypted, "passphrase", "box-passphrase", "enterprise_id", "9001"), true, "read folder"},
		{"jwt with wrong passphrase", creds("type", "jwt", "public_key_id", "pubkey1", "private_key", encrypted, "passphrase", "nope-pass", "enterprise_id", "9001"), false, "passphrase is wrong"},
		{"jwt signed by another key", creds("type", "jwt", "public_key_id", "pubkey1", "private_key", other.PKCS8PEM, "enterprise_id", "9001"), false, "invalid_grant"},
		{"folder not found", withFolder, false, "not found"},
	})
}

func TestSnowflakeCheck(t *testing.T) {
	t.Parallel()
	key, other := providertest.NewKeyPair(t), providertest.NewKeyPair(t)
	d := providertest.NewSnowflake(t, "xy12345", "loader", "sf-password-value", key)
	kp := func(pem, user string) providers.Config {
		return providers.Config{"account": "xy12345.us-east-1", "warehouse": "WH", "query_timeout_seconds": float64(60),
			"credentials": map[string]any{"type": "key_pair", "username": user, "private_key": pem}}
	}
	pw := func(pass string) providers.Config {
		return providers.Config{"account": "xy12345", "database": "DB",
			"credentials": map[string]any{"type": "username_password", "username": "loader", "password": pass}}
	}
	runCases(t, "snowflake", localEnv(d.Endpoints()), []string{"sf-password-value", "sf-wrong-password"}, []checkCase{
		{"key pair", kp(key.PKCS8PEM, "loader"), true, "ran SELECT 1"},
		{"key pair of another key", kp(other.PKCS8PEM, "loader"), false, "authentication refused"},
		{"key pair of another user", kp(key.PKCS8PEM, "someone"), false, "authentication refused"},
		{"garbage key", kp("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "loader"), false, "not a PEM RSA key"},
		{"password", pw("sf-password-value"), true, "ran SELECT 1"},
		{"wrong password", pw("sf-wrong-password"), false, "incorrect username or password"},
	})
}
