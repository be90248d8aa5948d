package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/gen/client"
)

// No change happens without its audit event: while the organization's
// events cannot be written, every change answers an error in the envelope
// and leaves things as they were; once they can, the same requests work.
func TestNoChangeWithoutItsAuditEvent(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Create("audited change"))
	path := connPath(c.ConnectionId)
	key := h.Call(t, "POST", "/v1/organizations/api-keys", map[string]any{"name": "to revoke", "scopes": []string{"read"}})
	if key.Status != 200 {
		t.Fatalf("key: %d %s", key.Status, key.Body)
	}
	keyID := key.JSON(t)["key_id"].(string)
	keys := func() string { // ids, and which are revoked
		var out []string
		for _, k := range decodeAnswer[client.ApiKeyList](t, h.Call(t, "GET", "/v1/organizations/api-keys", nil), "keys").Results {
			out = append(out, fmt.Sprintf("%s revoked:%v", k.KeyId, k.RevokedAt != nil))
		}
		return strings.Join(out, "\n")
	}
	keysBefore := keys()

	allow := refuseEvents(t, fmt.Sprintf("NEW.internal_id = '%s'", h.Tenant.OrgID))
	refused := func(what string, r connvaulttest.Response) {
		t.Helper()
		if r.Status < 500 || !strings.Contains(string(r.Body), `"error"`) {
			t.Errorf("%s while events are refused: %d %s", what, r.Status, r.Body)
		}
	}
	refused("create", h.Call(t, "POST", connectionsPath, s3Create("never created")))
	refused("PATCH", h.Call(t, "PATCH", path, map[string]any{"description": "never written", "provider_config": map[string]any{
		"credentials": map[string]any{"type": "access_key", "access_key_id": "AKIAEXAMPLE", "secret_access_key": "never-stored"}},
		"test_before_save": false}))
	refused("test", h.Call(t, "POST", path+"/test", nil))
	refused("usage report", h.Call(t, "POST", path+"/usage", map[string]any{"success": false, "operation": "sync", "error": "never counted"}))
	refused("archive", h.Call(t, "DELETE", path, nil))
	refused("credentials", h.Call(t, "POST", path+"/credentials", nil))
	refused("key created", h.Call(t, "POST", "/v1/organizations/api-keys", map[string]any{"name": "never made"}))
	refused("key revoked", h.Call(t, "DELETE", "/v1/organizations/api-keys/"+keyID, nil))

	if r := h.Call(t, "GET", connPath("never created"), nil); r.Status != 404 {
		t.Errorf("a refused create left a connection: %d %s", r.Status, r.Body)
	}
	now := model(t, h.Call(t, "GET", path, nil))
	if now.Status != client.ConnectionStatusACTIVE || now.Description != nil || now.UpdatedAt != c.UpdatedAt ||
		now.ConsecutiveFailures != 0 || now.LastError != nil || now.LastCheckedAt != nil {
		t.Errorf("a refused PATCH, test, usage report or archive changed the connection: %+v", now)
	}
	if got := keys(); got != keysBefore {
		t.Errorf("refused key changes changed the keys:\n%s\nwant\n%s", got, keysBefore)
	}

	allow()
	if r := h.Call(t, "PATCH", path, map[string]any{"description": "written", "test_before_save": false, "provider_config": map[string]any{
		"credentials": map[string]any{"type": "access_key", "access_key_id": "AKIAEXAMPLE", "secret_access_key": "stored now"}}}); r.Status != 200 {
		t.Fatalf("PATCH once events can be written: %d %s", r.Status, r.Body)
	}
	if got := issued(t, h.Call(t, "POST", path+"/credentials", nil)); got.Credentials["secret_access_key"] != "stored now" {
		t.Errorf("credentials once events can be written: %+v", got)
	}
	if r := h.Call(t, "POST", path+"/usage", map[string]any{"success": true, "operation": "sync"}); r.Status != 200 {
		t.Errorf("usage report once events can be written: %d %s", r.Status, r.Body)
	}
	if r := h.Call(t, "DELETE", "/v1/organizations/api-keys/"+keyID, nil); r.Status != 200 {
		t.Errorf("revoke once events can be written: %d %s", r.Status, r.Body)
	}
	if r := h.Call(t, "DELETE", path, nil); r.Status != 200 || model(t, r).Status != client.ConnectionStatusARCHIVED {
		t.Errorf("archive once events can be written: %d %s", r.Status, r.Body)
	}
	// Repeating a revoke or an archive changes nothing, so it records nothing.
	if r := h.Call(t, "DELETE", "/v1/organizations/api-keys/"+keyID, nil); r.Status != 200 {
		t.Errorf("revoking a revoked key: %d %s", r.Status, r.Body)
	}
	if r := h.Call(t, "DELETE", path, nil); r.Status != 200 || model(t, r).Status != client.ConnectionStatusARCHIVED {
		t.Errorf("archiving an archived connection: %d %s", r.Status, r.Body)
	}
	events := string(h.Call(t, "GET", "/v1/organizations/events?limit=100", nil).Body)
	for action, want := range map[string]int{"connection.created": 1, "connection.updated": 1, "credentials.issued": 1,
		"connection.archived": 1, "api_key.created": 1, "api_key.revoked": 1, "usage.reported": 1, "connection.tested": 0} {
		if n := strings.Count(events, `"`+action+`"`); n != want {
			t.Errorf("%d %s events, want %d: %s", n, action, want, events)
		}
	}
}
