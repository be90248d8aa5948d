package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
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
	if !after.SecretFields[0].ChangedAt.Equal(c.SecretFields[0].ChangedAt) {
		t.Errorf("rotation moved changed_at: %v -> %v", c.SecretFields[0].ChangedAt, after.SecretFields[0].ChangedAt)
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
