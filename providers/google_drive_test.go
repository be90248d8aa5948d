package providers_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

// The Google double's account: a service account, and an OAuth client
// with a user's refresh token.
const (
	googleEmail   = "sync@proj.iam.gserviceaccount.com"
	googleSecret  = "GOCSPX-gd-client-secret"
	googleRefresh = "1//gd-refresh-token"
)

// newGoogle starts the Google double with a service account key (kid1)
// and returns it with that key and another one.
func newGoogle(t *testing.T) (d *providertest.Google, key, other providertest.KeyPair) {
	t.Helper()
	key, other = providertest.NewKeyPair(t), providertest.NewKeyPair(t)
	d = providertest.NewGoogle(t, key, googleEmail, "client-1.apps.googleusercontent.com", googleSecret, googleRefresh)
	d.RequireKeyID("kid1")
	return d, key, other
}

func TestGoogleDriveCheck(t *testing.T) {
	t.Parallel()
	d, key, other := newGoogle(t)
	d.AllowImpersonation("alice@example.com")

	sa := func(pemText string, edit ...func(cfg, creds map[string]any)) providers.Config {
		creds := map[string]any{"type": "service_account", "project_id": "proj", "private_key_id": "kid1",
			"private_key": pemText, "client_email": googleEmail, "client_id": "123"}
		cfg := providers.Config{"credentials": creds}
		for _, e := range edit {
			e(cfg, creds)
		}
		return cfg
	}
	set := func(k string, v any) func(cfg, creds map[string]any) {
		return func(cfg, _ map[string]any) { cfg[k] = v }
	}
	setCred := func(k string, v any) func(cfg, creds map[string]any) {
		return func(_, creds map[string]any) { creds[k] = v }
	}
	oauth := func(clientSecret, refreshToken string) providers.Config {
		return providers.Config{"shared_drive_id": "0AH-drive", "credentials": map[string]any{"type": "oauth",
			"client_id": "client-1.apps.googleusercontent.com", "client_secret": clientSecret, "refresh_token": refreshToken}}
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))

	secrets := append([]string{googleSecret, googleRefresh, "wrong-gd-secret", "1//revoked-refresh"}, pemLines(key.PKCS8PEM)...)
	secrets = append(secrets, pemLines(key.PKCS1PEM)...)
	secrets = append(secrets, pemLines(other.PKCS8PEM)...)
	runDirect(t, "google_drive", d, &d.Requests, secrets, []directCase{
		{name: "service account, PKCS#8 key", cfg: sa(key.PKCS8PEM), ok: true, want: "listed files in the drive", step: "list files", calls: 2},
		{name: "service account, the whole key file pasted: its token_uri is never dialed", cfg: sa(key.PKCS8PEM,
			setCred("token_uri", "https://token-uri-from-the-request.invalid/token"), setCred("auth_uri", "https://accounts.google.com/o/oauth2/auth"),
			setCred("auth_provider_x509_cert_url", "https://www.googleapis.com/oauth2/v1/certs"),
			setCred("client_x509_cert_url", "https://www.googleapis.com/robot/v1/metadata/x509/sync"), setCred("universe_domain", "googleapis.com")),
			ok: true, want: "listed files in the drive", step: "list files", calls: 2},
		{name: "service account, PKCS#1 key", cfg: sa(key.PKCS1PEM), ok: true, want: "listed files", step: "list files", calls: 2},
		{name: "service account, key pasted with \\n escapes", cfg: sa(strings.ReplaceAll(key.PKCS8PEM, "\n", `\n`)), ok: true, want: "listed files", step: "list files", calls: 2},
		{name: "service account impersonating a delegated user", cfg: sa(key.PKCS8PEM, set("impersonate_user", "alice@example.com")), ok: true, want: "listed files", step: "list files", calls: 2},
		{name: "service account impersonating a user without delegation", cfg: sa(key.PKCS8PEM, set("impersonate_user", "mallory@example.com")), ok: false,
			want: "authentication refused by the provider (HTTP 401 Unauthorized (unauthorized_client))", step: "authenticate", calls: 1},
		{name: "service account signed by another key", cfg: sa(other.PKCS8PEM), ok: false,
			want: "authentication refused by the provider (HTTP 400 Bad Request (invalid_grant))", step: "authenticate", calls: 1},
		{name: "service account with the wrong private_key_id", cfg: sa(key.PKCS8PEM, setCred("private_key_id", "kid2")), ok: false, want: "invalid_grant", step: "authenticate", calls: 1},
		{name: "service account of another client_email", cfg: sa(key.PKCS8PEM, setCred("client_email", "x@proj.iam.gserviceaccount.com")), ok: false, want: "invalid_grant", step: "authenticate", calls: 1},
		{name: "garbage private key", cfg: sa("not a key"), ok: false, want: "private_key is not a PEM RSA key", step: "read credentials", calls: 0},
		{name: "truncated PEM private key", cfg: sa("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n"), ok: false, want: "private_key is not a PEM RSA key", step: "read credentials", calls: 0},
		{name: "EC private key", cfg: sa(ecPEM), ok: false, want: "private_key is not a PEM RSA key", step: "read credentials", calls: 0},
		{name: "oauth, shared drive", cfg: oauth(googleSecret, googleRefresh), ok: true, want: "listed files in the shared drive", step: "list files", calls: 2},
		{name: "oauth, wrong client secret", cfg: oauth("wrong-gd-secret", googleRefresh), ok: false,
			want: "authentication refused by the provider (HTTP 401 Unauthorized (invalid_client))", step: "authenticate", calls: 1},
		{name: "oauth, revoked refresh token", cfg: oauth(googleSecret, "1//revoked-refresh"), ok: false,
			want: "authentication refused by the provider (HTTP 400 Bad Request (invalid_grant))", step: "authenticate", calls: 1},
		{name: "shared drive not found", cfg: sa(key.PKCS8PEM, set("shared_drive_id", "missing-drive")), ok: false,
			want: "the shared drive was not found", step: "list files", calls: 2},
		{name: "folder", cfg: sa(key.PKCS8PEM, set("folder_id", "1FolderAbc")), ok: true, want: "listed files in the folder", step: "list files", calls: 2},
		{name: "folder id with a quote stays one query string", cfg: sa(key.PKCS8PEM, set("folder_id", `it's\here`)), ok: true, want: "listed files in the folder", step: "list files", calls: 2},
		{name: "folder not found", cfg: sa(key.PKCS8PEM, set("folder_id", "missing-folder")), ok: false, want: "the folder was not found", step: "list files", calls: 2},
	})
	expiredCheck(t, "google_drive", d, &d.Requests, sa(key.PKCS8PEM))
}
