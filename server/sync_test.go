package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/gen/client"
	"github.com/connvault/connvault/store"
)

// A worker's usage reports go through the lifecycle rule: five failures in
// a row make the connection FAILED, a success brings it back and sets
// last_used_at; the error a worker quotes is scrubbed of the connection's
// secrets.
func TestUsageReports(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Create("used"))
	path := connPath(c.ConnectionId) + "/usage"
	for i := 1; i <= 5; i++ {
		got := model(t, h.Call(t, "POST", path, map[string]any{"success": false, "operation": "sync",
			"error": fmt.Sprintf("attempt %d: provider said 403 for key s3-secret-used", i)}))
		want := client.ConnectionStatusACTIVE
		if i == 5 {
			want = client.ConnectionStatusFAILED
		}
		if got.ConsecutiveFailures != i || got.Status != want || got.LastError == nil {
			t.Fatalf("after failed report %d: %v %v %v", i, got.ConsecutiveFailures, got.Status, got.LastError)
		}
		if strings.Contains(*got.LastError, "s3-secret-used") || !strings.Contains(*got.LastError, "***REDACTED***") {
			t.Fatalf("last_error keeps the secret: %q", *got.LastError)
		}
		if got.LastCheckedAt != nil {
			t.Errorf("a usage report counted as a check: %v", got.LastCheckedAt)
		}
	}
	back := model(t, h.Call(t, "POST", path, map[string]any{"success": true, "operation": "list"}))
	if back.Status != client.ConnectionStatusACTIVE || back.ConsecutiveFailures != 0 || back.LastUsedAt == nil || back.LastError != nil {
		t.Fatalf("after a successful report: %+v", back)
	}
	wantFieldError(t, h.Call(t, "POST", path, map[string]any{"success": true, "operation": "delete"}), "body", "operation")
	wantFieldError(t, h.Call(t, "POST", path, map[string]any{"operation": "sync"}), "body", "success")
	h.Call(t, "DELETE", connPath(c.ConnectionId), nil)
	wantError(t, h.Call(t, "POST", path, map[string]any{"success": true, "operation": "sync"}), 409, "ConflictError")
	wantError(t, h.Call(t, "POST", connPath("conn_aaaaaaaaaaaaaaa")+"/usage", map[string]any{"success": true, "operation": "sync"}), 404, "NotFoundError")
}

// A connection saved without a test is due for its background check at
// once; one tested before saving waits the interval.
func TestUntestedConnectionsAreDueAtOnce(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Create("untested"))
	stored, err := h.Store.GetConnection(t.Context(), h.Tenant.OrgID, c.ConnectionId)
	if err != nil {
		t.Fatal(err)
	}
	if stored.NextCheckAt == nil || time.Until(*stored.NextCheckAt) > time.Second {
		t.Fatalf("untested create: next check %v", stored.NextCheckAt)
	}
	// Suspend, resume (scheduled normally), then PATCH credentials untested: due at once again.
	h.Call(t, "PATCH", connPath(c.ConnectionId), map[string]any{"status": "SUSPENDED"})
	h.Call(t, "PATCH", connPath(c.ConnectionId), map[string]any{"status": "ACTIVE"})
	if s, _ := h.Store.GetConnection(t.Context(), h.Tenant.OrgID, c.ConnectionId); s == nil || s.NextCheckAt == nil || time.Until(*s.NextCheckAt) < time.Minute {
		t.Fatalf("after resume: %v", s.NextCheckAt)
	}
	h.Call(t, "PATCH", connPath(c.ConnectionId), map[string]any{"test_before_save": false,
		"provider_config": map[string]any{"credentials": map[string]any{"secret_access_key": "rotated-by-user"}}})
	if s, _ := h.Store.GetConnection(t.Context(), h.Tenant.OrgID, c.ConnectionId); s == nil || s.NextCheckAt == nil || time.Until(*s.NextCheckAt) > time.Second {
		t.Fatalf("after an untested credential change: %v", s.NextCheckAt)
	}
}

// The audit trail records who did what, names changed fields but never
// values, filters by action and time and pages by cursor.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Create("audited"))
	id := c.ConnectionId
	// A refused create records nothing: the event is written by the row's
	// own statement.
	wantError(t, h.Call(t, "POST", connectionsPath, s3Create("audited")), 409, "AlreadyExistsError")
	h.Call(t, "PATCH", connPath(id), map[string]any{"name": "audited 2", "test_before_save": false,
		"provider_config": map[string]any{"credentials": map[string]any{"secret_access_key": "new-audited-secret"}}})
	h.Call(t, "PATCH", connPath(id), map[string]any{"status": "SUSPENDED"})
	h.Call(t, "POST", connPath(id)+"/test", nil)
	h.Call(t, "POST", connPath(id)+"/usage", map[string]any{"success": true, "operation": "sync"})
	key := decodeAnswer[client.ApiKeyCreated](t, h.Call(t, "POST", "/v1/organizations/api-keys", map[string]any{"name": "k"}), "a key")
	h.Call(t, "DELETE", "/v1/organizations/api-keys/"+key.KeyId, nil)
	h.Call(t, "DELETE", connPath(id), nil)

	events := decodeAnswer[client.EventList](t, h.Call(t, "GET", connPath(id)+"/events", nil), "events")
	var actions []string
	for _, e := range events.Results {
		actions = append(actions, string(e.Action))
		if e.Actor.UserId == nil || *e.Actor.UserId != h.Tenant.UserID || e.Actor.KeyId == nil || *e.Actor.KeyId != h.Tenant.KeyID || e.RequestId == nil {
			t.Errorf("%s without its actor or request id: %+v", e.Action, e)
		}
	}
	want := "connection.archived usage.reported connection.tested connection.status_changed connection.updated connection.updated connection.created"
	if strings.Join(actions, " ") != want {
		t.Errorf("actions newest first:\n got %q\nwant %q", strings.Join(actions, " "), want)
	}
	raw, _ := json.Marshal(events)
	for _, secret := range []string{"new-audited-secret", "s3-secret-audited"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("an event holds a secret: %s", raw)
		}
	}
	if !strings.Contains(string(raw), "provider_config.credentials.secret_access_key") || !strings.Contains(string(raw), `"name"`) {
		t.Errorf("the update does not name its fields: %s", raw)
	}
	created := decodeAnswer[client.EventList](t, h.Call(t, "GET", "/v1/organizations/events?action=connection.created", nil), "events")
	if len(created.Results) != 1 || created.Results[0].ConnectionId == nil || *created.Results[0].ConnectionId != id {
		t.Errorf("connection.created events: %+v", created.Results)
	}
	all := decodeAnswer[client.EventList](t, h.Call(t, "GET", "/v1/organizations/events?action=api_key.created", nil), "events")
	if len(all.Results) != 1 || all.Results[0].ConnectionId != nil {
		t.Errorf("api_key.created events: %+v", all.Results)
	}
	// Paging: two at a time through everything, each once.
	seen := map[string]bool{}
	cursor := ""
	for range 10 {
		p := "/v1/organizations/events?limit=2"
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		page := decodeAnswer[client.EventList](t, h.Call(t, "GET", p, nil), "events")
		for _, e := range page.Results {
			if seen[e.EventId] {
				t.Fatalf("event %s on two pages", e.EventId)
			}
			seen[e.EventId] = true
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if len(seen) != 9 { // 7 of the connection, 2 of the key
		t.Errorf("paged through %d events, want 9", len(seen))
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if page := decodeAnswer[client.EventList](t, h.Call(t, "GET", "/v1/organizations/events?since="+future, nil), "events"); len(page.Results) != 0 {
		t.Errorf("since the future: %d events", len(page.Results))
	}
	wantFieldError(t, h.Call(t, "GET", "/v1/organizations/events?cursor=garbage", nil), "query", "cursor")
	wantFieldError(t, h.Call(t, "GET", "/v1/organizations/events?action=connection.exploded", nil), "query", "action")
	wantError(t, h.Call(t, "GET", connPath("conn_aaaaaaaaaaaaaaa")+"/events", nil), 404, "NotFoundError")
	wantFieldError(t, h.Call(t, "GET", connPath(id)+"/events?limit=0", nil), "query", "limit")
	// Another organization sees none of them.
	other := connvaulttest.NewServer(t, connvaulttest.Options{})
	if page := decodeAnswer[client.EventList](t, other.Call(t, "GET", "/v1/organizations/events", nil), "events"); len(page.Results) != 0 {
		t.Errorf("another organization sees %d events", len(page.Results))
	}
}

// What Python clients (Mixpeek's SDK among them) send and read: null for
// unset optional fields on create, and FastAPI's `detail` beside the
// envelope of a 422.
func TestNullsAndFastAPIDetail(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	body := s3Create("nulls")
	body["description"], body["metadata"] = nil, nil
	c := create(t, h, body)
	if c.Description != nil || string(c.Metadata) != "{}" {
		t.Errorf("nulls stored as %v %s", c.Description, c.Metadata)
	}
	// Inside provider_config too: an optional field sent as null is absent
	// (not stored, its default applies), a secret included.
	nested := s3Create("nested nulls")
	cfg := nested["provider_config"].(map[string]any)
	cfg["description"], cfg["prefix"], cfg["verify_ssl"] = nil, nil, nil
	cfg["credentials"].(map[string]any)["session_token"] = nil
	if c := create(t, h, nested); strings.Contains(string(c.ProviderConfig), "null") ||
		strings.Contains(string(c.ProviderConfig), "prefix") || strings.Contains(string(c.ProviderConfig), "session_token") {
		t.Errorf("nulls inside the config stored: %s", c.ProviderConfig)
	}
	httpAPI := map[string]any{"name": "api with null paging", "provider_type": "http_api", "test_before_save": false,
		"provider_config": map[string]any{"base_url": "https://api.example.invalid/items", "item_id_field": "id",
			"pagination": nil, "items_path": nil, "request_timeout": nil, "http_method": nil, "request_body": nil}}
	if r := h.Call(t, "POST", connectionsPath, httpAPI); r.Status != 200 {
		t.Errorf("http_api with null optional fields: %d %s", r.Status, r.Body)
	}
	// A Google service-account key file pasted whole is accepted as it is.
	keyFile := map[string]any{"type": "service_account", "project_id": "proj", "private_key_id": "kid1",
		"private_key":  "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n",
		"client_email": "sync@proj.iam.gserviceaccount.com", "client_id": "123",
		"auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/sync%40proj.iam.gserviceaccount.com",
		"universe_domain":             "googleapis.com"}
	if r := h.Call(t, "POST", connectionsPath, map[string]any{"name": "key file", "provider_type": "google_drive", "test_before_save": false,
		"provider_config": map[string]any{"provider_type": "google_drive", "shared_drive_id": nil, "credentials": keyFile}}); r.Status != 200 {
		t.Errorf("a whole key file: %d %s", r.Status, r.Body)
	}
	// A required field is still required when null.
	required := s3Create("null credentials")
	required["provider_config"].(map[string]any)["credentials"] = nil
	wantFieldError(t, h.Call(t, "POST", connectionsPath, required), "body", "provider_config", "credentials")

	r := h.Call(t, "POST", connectionsPath, map[string]any{"provider_type": "s3"})
	var env client.ErrorResponse
	if err := json.Unmarshal(r.Body, &env); err != nil || r.Status != 422 || env.Detail == nil || len(*env.Detail) == 0 {
		t.Fatalf("422 without detail: %d %s", r.Status, r.Body)
	}
	first := (*env.Detail)[0]
	if len(first.Loc) == 0 || first.Loc[0] != "body" || first.Msg == "" || first.Type == "" {
		t.Errorf("detail %+v", first)
	}
	if r := h.Call(t, "GET", connPath("conn_aaaaaaaaaaaaaaa"), nil); strings.Contains(string(r.Body), `"detail"`) {
		t.Errorf("a 404 carries detail: %s", r.Body)
	}
}

// Mixpeek's clients restate provider_type inside provider_config: accepted
// when it equals the connection's, refused otherwise, never stored.
func TestProviderTypeInsideTheConfig(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	body := s3Create("restated")
	body["provider_config"].(map[string]any)["provider_type"] = "s3"
	c := create(t, h, body)
	if strings.Contains(string(c.ProviderConfig), "provider_type") {
		t.Errorf("stored twice: %s", c.ProviderConfig)
	}
	other := s3Create("mismatch")
	other["provider_config"].(map[string]any)["provider_type"] = "rss"
	wantFieldError(t, h.Call(t, "POST", connectionsPath, other), "body", "provider_config", "provider_type")
	if r := h.Call(t, "PATCH", connPath(c.ConnectionId), map[string]any{"test_before_save": false,
		"provider_config": map[string]any{"provider_type": "s3", "region": "eu-west-1"}}); r.Status != 200 || strings.Contains(string(model(t, r).ProviderConfig), "provider_type") {
		t.Errorf("PATCH restating the type: %d %s", r.Status, r.Body)
	}
	wantFieldError(t, h.Call(t, "PATCH", connPath(c.ConnectionId), map[string]any{"provider_config": map[string]any{"provider_type": "rss"}}),
		"body", "provider_config", "provider_type")
}

// A worker quotes what the provider said with the credentials it was
// handed: the connection's cached token and anything shaped like a
// credential are scrubbed from last_error too, not only stored secrets.
func TestUsageReportsScrubIssuedTokens(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Create("used with a token"))
	stored, err := h.Store.GetConnection(t.Context(), h.Tenant.OrgID, c.ConnectionId)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	token := store.CachedCredentials{Credentials: json.RawMessage(`{"session_token": "opaque-cached-session-42"}`), IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	if _, err := h.Store.SaveIssued(t.Context(), stored, token, nil); err != nil {
		t.Fatal(err)
	}
	quoted := "GET /bucket 403 with opaque-cached-session-42; earlier Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3In0.c2lnbmF0dXJlLXZhbHVl"
	got := model(t, h.Call(t, "POST", connPath(c.ConnectionId)+"/usage", map[string]any{"success": false, "operation": "sync", "error": quoted}))
	if got.LastError == nil {
		t.Fatal("no last_error")
	}
	for _, secret := range []string{"opaque-cached-session-42", "eyJhbGciOiJIUzI1NiJ9", "c2lnbmF0dXJlLXZhbHVl"} {
		if strings.Contains(*got.LastError, secret) {
			t.Errorf("last_error keeps %q: %q", secret, *got.LastError)
		}
	}
	if !strings.Contains(*got.LastError, "GET /bucket 403 with ***REDACTED***") {
		t.Errorf("last_error lost the rest of the text: %q", *got.LastError)
	}
}
