package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/store"
)

// An issue's lookup reads the connection with, in the same statement, its
// cached token while good or else its secrets; secrets under a previous
// key are left to Sealed, which picks that key's passphrase.
func TestIssueLookup(t *testing.T) {
	ctx := context.Background()
	pool := connvaulttest.Pool(t)
	oldKey, newKey := "issue-old-"+strings.Repeat("o", 32), "issue-new-"+strings.Repeat("n", 32)
	old := store.New(pool, mustKeyring(t, oldKey))
	tn := connvaulttest.NewTenant(t, old)
	c, err := old.CreateConnection(ctx, store.NewConnection{
		OrgID: tn.OrgID, UserID: tn.UserID, Name: "issuing", ProviderType: "s3",
		Config: connvault.SealedConfig{
			Config:  map[string]any{"bucket": "b", "credentials": map[string]any{"type": "access_key", "access_key_id": "AK", "secret_access_key": connvault.RedactedMarker}},
			Secrets: connvault.SecretsFrom(map[string]any{"credentials": map[string]any{"secret_access_key": "issue-lookup-secret"}}),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	secretOf := func(sealed *connvault.SealedConfig) any {
		return sealed.Plain()["credentials"].(map[string]any)["secret_access_key"]
	}
	for _, ident := range []string{c.ID, "issuing"} {
		m, err := old.IssueLookup(ctx, tn.OrgID, ident)
		if err != nil {
			t.Fatal(err)
		}
		if m.Connection.ID != c.ID || m.Cached != nil || m.Sealed == nil || secretOf(m.Sealed) != "issue-lookup-secret" {
			t.Fatalf("lookup by %s: %+v", ident, m)
		}
	}
	if _, err := old.IssueLookup(ctx, connvaulttest.NewTenant(t, old).OrgID, c.ID); connvault.ErrorCode(err) != connvault.ENOTFOUND {
		t.Fatalf("another organization's lookup: %v", err)
	}

	// A cached token while good: no secrets read.
	now := time.Now().UTC().Truncate(time.Microsecond)
	token := json.RawMessage(`{"access_token":"cached-token"}`)
	if _, err := old.SaveIssued(ctx, c, store.CachedCredentials{Credentials: token, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, nil); err != nil {
		t.Fatal(err)
	}
	m, err := old.IssueLookup(ctx, tn.OrgID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Cached == nil || string(m.Cached.Credentials) != string(token) || !m.Cached.ExpiresAt.Equal(now.Add(time.Hour)) || m.Sealed != nil {
		t.Fatalf("with a cached token: %+v", m)
	}
	// One that expires within the reuse margin is not handed out.
	if _, err := old.SaveIssued(ctx, c, store.CachedCredentials{Credentials: token, IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Minute)}, nil); err != nil {
		t.Fatal(err)
	}
	if m, err = old.IssueLookup(ctx, tn.OrgID, c.ID); err != nil || m.Cached != nil || m.Sealed == nil {
		t.Fatalf("with a token about to expire: %+v, %v", m, err)
	}

	// Mid-rotation: the current key is new, the row is under the old one.
	rotating := store.New(pool, mustKeyring(t, newKey, oldKey))
	m, err = rotating.IssueLookup(ctx, tn.OrgID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Cached != nil || m.Sealed != nil {
		t.Fatalf("secrets under the previous key read with the current one: %+v", m)
	}
	sealed, err := rotating.Sealed(ctx, m.Connection)
	if err != nil || secretOf(&sealed) != "issue-lookup-secret" {
		t.Fatalf("Sealed under the previous key: %v", err)
	}
}
