package providers_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

// storedForm is a full config as the store keeps it: the public part with
// a marker at each secret's path, and the secrets (the same shape, the
// secret leaves only), both as JSON.
func storedForm(t testing.TB, p *providers.Provider, full providers.Config) ([]byte, connvault.Secret) {
	t.Helper()
	sealed := providers.Seal(p, full)
	config, err := json.Marshal(sealed.Config)
	if err != nil {
		t.Fatal(err)
	}
	if sealed.Secrets.Empty() {
		return config, ""
	}
	secrets, err := json.Marshal(sealed.Secrets.Plain())
	if err != nil {
		t.Fatal(err)
	}
	return config, connvault.Secret(secrets)
}

// issueOffline runs IssueOffline on full as stored.
func issueOffline(t testing.TB, p *providers.Provider, full providers.Config, env providers.Env) (providers.Issued, bool) {
	t.Helper()
	config, secrets := storedForm(t, p, full)
	return providers.IssueOffline(context.Background(), p, config, secrets, env)
}

// A config as stored, decoded straight into the provider's typed config,
// is issued offline as the provider's Issue issues the full config: the
// same credentials for every static variant, and a refusal for what needs
// a provider or expires.
func TestIssueOfflineDecodesTheStoredConfig(t *testing.T) {
	t.Parallel()
	keyPair := map[string]any{"type": "key_pair", "username": "loader", "private_key": providertest.NewKeyPair(t).PKCS8PEM}
	for _, tc := range []struct {
		provider string
		full     providers.Config
		static   bool
	}{
		{"s3", s3Config("http://s3.invalid", "bkt", "AKIASTORED", "s3-stored-secret"), true},
		{"s3", providers.Config{"bucket": "b", "region": "eu-west-1", "credentials": map[string]any{"type": "access_key",
			"access_key_id": "AKIA", "secret_access_key": "s3-secret", "session_token": "s3-session-token"}}, true},
		{"s3", providers.Config{"bucket": "b", "credentials": map[string]any{"type": "iam_role", "role_arn": "arn:aws:iam::1:role/r"}}, false},
		{"tigris", providers.Config{"bucket": "b", "credentials": map[string]any{"type": "access_key", "access_key_id": "tid", "secret_access_key": "tigris-secret"}}, true},
		{"backblaze", providers.Config{"bucket": "b", "credentials": map[string]any{"type": "application_key", "key_id": "k", "application_key": "b2-key"}}, true},
		{"brightdata", brightDataConfig("brightdata-token", "zone", ""), true},
		{"instagram", instagramConfig("IGQVJ-token", "", ""), true},
		{"rss", rssConfig("http://feed.invalid/rss.xml", "X-Api-Key", "feed-secret"), true},
		{"rss", rssConfig("http://feed.invalid/rss.xml", "", ""), true},
		{"http_api", httpAPIConfig("http://api.invalid/items", "data.items", "id", "api-token"), true},
		{"http_api", providers.Config{"base_url": "http://api.invalid/items", "items_path": "data", "item_id_field": "id", "request_body": map[string]any{"q": map[string]any{"a": float64(1)}},
			"credentials": map[string]any{"type": "http_headers", "headers": map[string]any{"Authorization": "Bearer t", "X-Api-Key": "k", "X-Tenant": "7"}}}, true},
		{"postgresql", providers.Config{"host": "db.invalid", "port": float64(6543), "database": "d", "ssl_mode": "require",
			"credentials": map[string]any{"type": "password", "username": "u", "password": "pg-password"}}, true},
		{"box", providers.Config{"credentials": map[string]any{"type": "oauth", "client_id": "c", "client_secret": "box-secret", "refresh_token": "box-refresh"}}, false},
		{"snowflake", providers.Config{"account": "xy12345", "credentials": map[string]any{"type": "username_password", "username": "LOADER", "password": "sf-password"}}, true},
		{"snowflake", providers.Config{"account": "xy12345", "credentials": keyPair}, false},
	} {
		p, ok := providers.Lookup(tc.provider)
		if !ok {
			t.Fatalf("provider %s is not registered", tc.provider)
		}
		got, ok := issueOffline(t, p, tc.full, localEnv(nil))
		if ok != tc.static {
			t.Errorf("%s %v: offline %v, want %v", tc.provider, tc.full, ok, tc.static)
			continue
		}
		if !ok {
			continue
		}
		want, err := p.Issue(context.Background(), tc.full, providers.Env{})
		if err != nil || want.ExpiresAt != nil || !equalJSON(got.Credentials, want.Credentials) {
			t.Errorf("%s: offline %v, Issue %v (%v)", tc.provider, got.Credentials, want.Credentials, err)
		}
	}
	// A document that is not the provider's config is not static: Issue
	// reports it.
	p, _ := providers.Lookup("s3")
	if _, ok := providers.IssueOffline(context.Background(), p, []byte(`{"credentials": "not an object"}`), "", localEnv(nil)); ok {
		t.Error("an unreadable config was issued")
	}
}

// The static issue's decoding, from the stored JSON: through the maps a
// check builds (what the issue did before) and straight into the typed
// config.
func BenchmarkIssueOfflineStatic(b *testing.B) {
	p, _ := providers.Lookup("s3")
	full := s3Config("http://s3.invalid", "bkt", "AKIASTORED", "s3-stored-secret")
	config, secrets := storedForm(b, p, full)
	ctx, env := context.Background(), localEnv(nil)
	b.Run("maps", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var cfg, sec map[string]any
			if json.Unmarshal(config, &cfg) != nil || json.Unmarshal([]byte(secrets.Reveal()), &sec) != nil {
				b.Fatal("undecodable")
			}
			plain := connvault.SealedConfig{Config: cfg, Secrets: connvault.SecretsFrom(sec)}.Plain()
			if iss, err := p.Issue(ctx, plain, env); err != nil || iss.ExpiresAt != nil {
				b.Fatal("not static")
			}
		}
	})
	b.Run("stored", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := providers.IssueOffline(ctx, p, config, secrets, env); !ok {
				b.Fatal("not static")
			}
		}
	})
}
