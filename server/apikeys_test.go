package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/gen/client"
	"github.com/connvault/connvault/providers/providertest"
)

// The API key routes: create with scopes (the raw key once), list without
// raw keys and with last_used_at, revoke by id (the key stops working).
func TestAPIKeys(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	r := h.Call(t, "POST", "/v1/organizations/api-keys", map[string]any{"name": "sync workers", "scopes": []string{"use", "read"}})
	created := decodeAnswer[client.ApiKeyCreated](t, r, "a new key")
	if !strings.HasPrefix(created.Key, "sk_") || created.Name != "sync workers" || len(created.Scopes) != 2 || !strings.HasPrefix(created.KeyId, "key_") {
		t.Fatalf("created: %+v", created)
	}
	// The new key works, within its scopes.
	if r := h.CallAs(t, "Bearer "+created.Key, "GET", connectionsPath, nil); r.Status != 200 {
		t.Errorf("new key reading: %d %s", r.Status, r.Body)
	}
	wantError(t, h.CallAs(t, "Bearer "+created.Key, "POST", connectionsPath, s3Create("not allowed")), 403, "ForbiddenError")

	list := decodeAnswer[client.ApiKeyList](t, h.Call(t, "GET", "/v1/organizations/api-keys", nil), "the keys")
	var found *client.ApiKey
	for i, k := range list.Results {
		if k.KeyId == created.KeyId {
			found = &list.Results[i]
		}
		if strings.Contains(string(h.Call(t, "GET", "/v1/organizations/api-keys", nil).Body), created.Key) {
			t.Fatal("the list shows a raw key")
		}
	}
	if found == nil || found.LastUsedAt == nil || found.RevokedAt != nil {
		t.Fatalf("listed: %+v", found)
	}
	// Default scopes are read and write.
	def := decodeAnswer[client.ApiKeyCreated](t, h.Call(t, "POST", "/v1/organizations/api-keys", map[string]any{"name": "default"}), "a new key")
	if len(def.Scopes) != 2 || def.Scopes[0] != "read" || def.Scopes[1] != "write" {
		t.Errorf("default scopes %v", def.Scopes)
	}
	wantFieldError(t, h.Call(t, "POST", "/v1/organizations/api-keys", map[string]any{"name": "x", "scopes": []string{"root"}}), "body", "scopes", "0")

	revoked := decodeAnswer[client.ApiKey](t, h.Call(t, "DELETE", "/v1/organizations/api-keys/"+created.KeyId, nil), "the revoked key")
	if revoked.RevokedAt == nil {
		t.Fatalf("revoked: %+v", revoked)
	}
	wantError(t, h.CallAs(t, "Bearer "+created.Key, "GET", connectionsPath, nil), 401, "UnauthorizedError")
	wantError(t, h.Call(t, "DELETE", "/v1/organizations/api-keys/key_aaaaaaaaaaaaaaa", nil), 404, "NotFoundError")
	// Another organization's key is not ours to revoke.
	other := connvaulttest.NewServer(t, connvaulttest.Options{})
	wantError(t, other.Call(t, "DELETE", "/v1/organizations/api-keys/"+def.KeyId, nil), 404, "NotFoundError")
	if r := h.CallAs(t, "Bearer "+def.Key, "GET", connectionsPath, nil); r.Status != http.StatusOK {
		t.Errorf("a key revoked by another organization: %d", r.Status)
	}
}

// Every operation answers 403 to a key without its scope and serves a key
// with it: the matrix of every route and every scope.
func TestScopeMatrix(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	d := providertest.NewS3(t, "AKIAMATRIX", "matrix-secret", map[string][]string{"matrix": {"a"}})
	folders := create(t, h, s3Against(d, "matrix browse", "matrix", "matrix-secret"))
	type op struct {
		name, method, path string
		body               any
		scope              connvault.Scope
	}
	for _, scope := range connvault.AllScopes {
		key, _ := connvaulttest.NewKey(t, h.Store, h.Tenant, scope)
		auth := "Bearer " + key
		own := create(t, h, s3Create("matrix "+string(scope)))
		victim := create(t, h, s3Create("matrix victim "+string(scope)))
		spareKey, spareID := connvaulttest.NewKey(t, h.Store, h.Tenant, connvault.ScopeRead)
		_ = spareKey
		ops := []op{
			{"create", "POST", connectionsPath, s3Create("matrix new " + string(scope)), connvault.ScopeWrite},
			{"list", "GET", connectionsPath, nil, connvault.ScopeRead},
			{"list POST", "POST", connectionsPath + "/list", map[string]any{}, connvault.ScopeRead},
			{"get", "GET", connPath(own.ConnectionId), nil, connvault.ScopeRead},
			{"patch", "PATCH", connPath(own.ConnectionId), map[string]any{"description": "d"}, connvault.ScopeWrite},
			{"test", "POST", connPath(own.ConnectionId) + "/test", nil, connvault.ScopeWrite},
			{"credentials", "POST", connPath(own.ConnectionId) + "/credentials", nil, connvault.ScopeUse},
			{"usage", "POST", connPath(own.ConnectionId) + "/usage", map[string]any{"success": true, "operation": "sync"}, connvault.ScopeUse},
			{"connection events", "GET", connPath(own.ConnectionId) + "/events", nil, connvault.ScopeRead},
			{"folders", "GET", connPath(folders.ConnectionId) + "/folders", nil, connvault.ScopeRead},
			{"files", "GET", connPath(folders.ConnectionId) + "/files", nil, connvault.ScopeRead},
			{"events", "GET", "/v1/organizations/events", nil, connvault.ScopeRead},
			{"create key", "POST", "/v1/organizations/api-keys", map[string]any{"name": "k"}, connvault.ScopeAdmin},
			{"list keys", "GET", "/v1/organizations/api-keys", nil, connvault.ScopeAdmin},
			{"revoke key", "DELETE", "/v1/organizations/api-keys/" + spareID, nil, connvault.ScopeAdmin},
			{"delete", "DELETE", connPath(victim.ConnectionId), nil, connvault.ScopeWrite},
		}
		for _, o := range ops {
			r := h.CallAs(t, auth, o.method, o.path, o.body)
			if o.scope == scope {
				if r.Status != 200 {
					t.Errorf("%s with scope %s: %d %s", o.name, scope, r.Status, r.Body)
				}
			} else {
				wantError(t, r, 403, "ForbiddenError")
			}
		}
	}
}
