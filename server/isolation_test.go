package server_test

import (
	"testing"

	"github.com/connvault/connvault/connvaulttest"
)

// Another organization's connection must be indistinguishable from a
// missing one on every endpoint: 404, never 403, never data.
func TestOrganizationsAreIsolated(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	other := connvaulttest.NewTenant(t, h.Store)
	otherAuth := "Bearer " + other.APIKey

	mine := create(t, h, s3Create("shared name"))
	id := mine.ConnectionId

	for _, ident := range []string{id, "shared name"} {
		wantError(t, h.CallAs(t, otherAuth, "GET", connPath(ident), nil), 404, "NotFoundError")
		wantError(t, h.CallAs(t, otherAuth, "PATCH", connPath(ident), map[string]any{"name": "stolen"}), 404, "NotFoundError")
		wantError(t, h.CallAs(t, otherAuth, "POST", connPath(ident)+"/test", nil), 404, "NotFoundError")
		wantError(t, h.CallAs(t, otherAuth, "DELETE", connPath(ident), nil), 404, "NotFoundError")
	}
	for _, r := range []connvaulttest.Response{
		h.CallAs(t, otherAuth, "GET", connectionsPath, nil),
		h.CallAs(t, otherAuth, "POST", connectionsPath+"/list", map[string]any{}),
		h.CallAs(t, otherAuth, "POST", connectionsPath+"/list", map[string]any{"status": "ARCHIVED"}),
		h.CallAs(t, otherAuth, "GET", connectionsPath+"?search=shared&include_total=true", nil),
	} {
		if n := len(listPage(t, r).Results); n != 0 {
			t.Errorf("other org lists %d of my connections: %s", n, r.Body)
		}
	}
	// The same name is free in the other organization.
	r := h.CallAs(t, otherAuth, "POST", connectionsPath, s3Create("shared name"))
	if r.Status != 200 {
		t.Fatalf("other org create: %d %s", r.Status, r.Body)
	}
	// And mine is untouched.
	if got := get(t, h, id); got.Name != "shared name" || got.Status != "ACTIVE" {
		t.Errorf("my connection changed: %+v", got)
	}
}
