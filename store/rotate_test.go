package store_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/migrations"
	"github.com/connvault/connvault/store"
)

func TestRotateKeysReencryptsUnderTheNewKey(t *testing.T) {
	ctx := context.Background()
	pool := connvaulttest.Pool(t)
	oldKey, newKey := "old-key-"+strings.Repeat("o", 32), "new-key-"+strings.Repeat("n", 32)
	oldRing, err := store.NewKeyring(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	old := store.New(pool, oldRing)
	tn := connvaulttest.NewTenant(t, old)
	c, err := old.CreateConnection(ctx, store.NewConnection{
		OrgID: tn.OrgID, UserID: tn.UserID, Name: "rotating", ProviderType: "s3",
		Config: connvault.SealedConfig{
			Config:  map[string]any{"bucket": "b", "credentials": map[string]any{"type": "access_key", "access_key_id": "AK", "secret_access_key": connvault.RedactedMarker}},
			Secrets: connvault.SecretsFrom(map[string]any{"credentials": map[string]any{"secret_access_key": "rotate-me-secret"}}),
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	// A server with only the new key cannot read the row yet.
	newOnly, err := store.NewKeyring(newKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.New(pool, newOnly).Secrets(ctx, c); err == nil {
		t.Fatal("the new key alone decrypted a row written under the old one")
	}
	ring, err := store.NewKeyring(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool, ring)
	if n, err := st.RotateKeys(ctx, tn.OrgID); err != nil || n != 1 {
		t.Fatalf("rotate: %d, %v", n, err)
	}
	after, err := store.New(pool, newOnly).GetConnection(ctx, tn.OrgID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.SecretKeyID == nil || *after.SecretKeyID != newOnly.CurrentID {
		t.Fatalf("key id after rotation = %v, want %s", after.SecretKeyID, newOnly.CurrentID)
	}
	secrets, err := store.New(pool, newOnly).Secrets(ctx, after)
	if err != nil {
		t.Fatal(err)
	}
	if got := secrets.Plain()["credentials"].(map[string]any)["secret_access_key"]; got != "rotate-me-secret" {
		t.Errorf("secret after rotation = %v", got)
	}
	before, err := c.SecretFieldList()
	if err != nil {
		t.Fatal(err)
	}
	rotatedFields, err := after.SecretFieldList()
	if err != nil {
		t.Fatal(err)
	}
	if !rotatedFields[0].ChangedAt.Equal(before[0].ChangedAt) {
		t.Errorf("rotation moved changed_at: %v -> %v", before[0].ChangedAt, rotatedFields[0].ChangedAt)
	}
	if n, err := st.RotateKeys(ctx, tn.OrgID); err != nil || n != 0 {
		t.Errorf("second rotation rewrote %d rows (%v)", n, err)
	}
}

// The store refuses a sealed config whose stored part lacks the marker at a
// secret's path: reads serve the stored part, and the marker is what says
// a secret is kept there.
func TestStoreRefusesUnmarkedSecrets(t *testing.T) {
	ctx := context.Background()
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	_, err := st.CreateConnection(ctx, store.NewConnection{
		OrgID: tn.OrgID, UserID: tn.UserID, Name: "unmarked", ProviderType: "s3",
		Config: connvault.SealedConfig{
			Config:  map[string]any{"bucket": "b", "credentials": map[string]any{"type": "access_key", "access_key_id": "AK"}},
			Secrets: connvault.SecretsFrom(map[string]any{"credentials": map[string]any{"secret_access_key": "unmarked-secret"}}),
		},
	})
	if err == nil || !strings.Contains(err.Error(), "credentials.secret_access_key") || strings.Contains(err.Error(), "unmarked-secret") {
		t.Fatalf("unmarked secret: %v", err)
	}
}

// Migration 005 puts "set": true into secret_fields written before it, so
// reads can serve the column as stored.
func TestSecretFieldsMigrationAddsSet(t *testing.T) {
	ctx := context.Background()
	url := connvaulttest.FreshDatabase(t)
	pool, err := store.Open(ctx, url, store.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	st := store.New(pool, mustKeyring(t, connvaulttest.EncryptionKey))
	tn := connvaulttest.NewTenant(t, st)
	c, err := st.CreateConnection(ctx, store.NewConnection{OrgID: tn.OrgID, UserID: tn.UserID, Name: "old shape", ProviderType: "rss",
		Config: connvault.SealedConfig{Config: map[string]any{"feed_url": "https://f.example.invalid"}}})
	if err != nil {
		t.Fatal(err)
	}
	old := `[{"field": "credentials.headers.X", "fingerprint": "hmac-sha256:0000000000000000", "changed_at": "2026-11-24T00:00:00Z"}]`
	if _, err := pool.Exec(ctx, `UPDATE connections SET secret_fields = $1 WHERE connection_id = $2`, old, c.ID); err != nil {
		t.Fatal(err)
	}
	sql, err := fs.ReadFile(migrations.FS, "005_secret_fields_as_served.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, string(sql)); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetConnection(ctx, tn.OrgID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := got.SecretFieldList()
	if err != nil || len(fields) != 1 || !fields[0].Set || fields[0].Field != "credentials.headers.X" {
		t.Fatalf("after the migration: %s (%v)", got.SecretFields, err)
	}
}

func mustKeyring(t *testing.T, key string, previous ...string) store.Keyring {
	t.Helper()
	k, err := store.NewKeyring(key, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
