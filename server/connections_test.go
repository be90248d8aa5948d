package server_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/gen/client"
)

func TestCreateThenGetByIDAndByName(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	body := s3Create("Marketing bucket")
	body["description"] = "assets"
	body["metadata"] = map[string]any{"team": "marketing"}
	c := create(t, h, body)

	if !regexp.MustCompile(`^conn_[A-Za-z0-9]{15}$`).MatchString(c.ConnectionId) {
		t.Errorf("connection_id = %v", c.ConnectionId)
	}
	if c.InternalId != h.Tenant.OrgID || c.CreatedByUserId != h.Tenant.UserID || c.Name != "Marketing bucket" ||
		c.ProviderType != client.ProviderTypeS3 || c.Status != client.ConnectionStatusACTIVE || !c.IsActive ||
		c.ConsecutiveFailures != 0 || c.Description == nil || *c.Description != "assets" || c.LastError != nil || c.LastUsedAt != nil {
		t.Errorf("created = %+v", c)
	}
	var metadata map[string]string
	if err := json.Unmarshal(c.Metadata, &metadata); err != nil || metadata["team"] != "marketing" {
		t.Errorf("metadata = %s (%v)", c.Metadata, err)
	}
	if c.CreatedAt.IsZero() || c.UpdatedAt.Before(c.CreatedAt) {
		t.Errorf("created_at %v, updated_at %v", c.CreatedAt, c.UpdatedAt)
	}
	var cfg client.S3Config
	if err := json.Unmarshal(c.ProviderConfig, &cfg); err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.AsS3AccessKeyCredentials()
	if err != nil || creds.SecretAccessKey == nil || *creds.SecretAccessKey != "***REDACTED***" || creds.AccessKeyId != "AKIAEXAMPLE" {
		t.Errorf("credentials = %+v (%v)", creds, err)
	}

	for _, ident := range []string{c.ConnectionId, "Marketing bucket"} {
		if got := model(t, h.Call(t, "GET", connPath(ident), nil)); got.ConnectionId != c.ConnectionId {
			t.Errorf("GET %s found %v", ident, got.ConnectionId)
		}
	}
}

func TestCreateDefaults(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Create("defaults"))
	if string(c.Metadata) != "{}" {
		t.Errorf("metadata = %s, want {}", c.Metadata)
	}
	if c.Description != nil {
		t.Errorf("description = %v, want null", *c.Description)
	}
	if len(c.SecretFields) != 1 || c.SecretFields[0].Field != "credentials.secret_access_key" || !c.SecretFields[0].Set {
		t.Errorf("secret_fields = %+v", c.SecretFields)
	}
}

func TestListFiltersAndCursorPaging(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	var ids []string
	for i := range 7 {
		body := s3Create(fmt.Sprintf("bucket %d", i))
		if i%2 == 1 {
			body = pgCreate(fmt.Sprintf("database %d", i))
		}
		ids = append(ids, create(t, h, body).ConnectionId)
	}
	// Newest first: walk every page by cursor and find each once, in order.
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		path := connectionsPath + "/list?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := h.Call(t, "POST", path, map[string]any{})
		if r.Status != 200 {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		page := r.JSON(t)
		for _, res := range page["results"].([]any) {
			seen = append(seen, res.(map[string]any)["connection_id"].(string))
		}
		next, _ := page["pagination"].(map[string]any)["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
		if pages > 5 {
			t.Fatal("cursor paging does not end")
		}
	}
	if len(seen) != 7 {
		t.Fatalf("saw %d connections, want 7: %v", len(seen), seen)
	}
	for i := range ids {
		if seen[i] != ids[len(ids)-1-i] {
			t.Fatalf("order = %v, want newest first %v", seen, ids)
		}
	}

	count := func(r connvaulttest.Response) int {
		t.Helper()
		if r.Status != 200 {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		return len(r.JSON(t)["results"].([]any))
	}
	if n := count(h.Call(t, "POST", connectionsPath+"/list", map[string]any{"provider_type": "postgresql"})); n != 3 {
		t.Errorf("provider_type=postgresql: %d results, want 3", n)
	}
	if n := count(h.Call(t, "GET", connectionsPath+"?provider_type=s3", nil)); n != 4 {
		t.Errorf("GET provider_type=s3: %d results, want 4", n)
	}
	if n := count(h.Call(t, "POST", connectionsPath+"/list", map[string]any{"search": "BUCKET"})); n != 4 {
		t.Errorf("search: %d results, want 4", n)
	}
	if n := count(h.Call(t, "GET", connectionsPath+"?search=%25", nil)); n != 0 {
		t.Errorf("search for a literal %%: %d results, want 0", n)
	}
	if n := count(h.Call(t, "POST", connectionsPath+"/list", map[string]any{"is_active": false})); n != 0 {
		t.Errorf("is_active=false: %d results, want 0", n)
	}

	// Offset paging with totals.
	r := h.Call(t, "GET", connectionsPath+"?limit=2&offset=2&include_total=true", nil)
	page := r.JSON(t)
	pg := page["pagination"].(map[string]any)
	if page["total"] != float64(7) || pg["total"] != float64(7) || pg["total_pages"] != float64(4) ||
		pg["page"] != float64(2) || pg["next_page"] != float64(3) || pg["previous_page"] != float64(1) || pg["page_size"] != float64(2) {
		t.Errorf("pagination = %v total = %v", pg, page["total"])
	}
	if got := page["results"].([]any)[0].(map[string]any)["connection_id"]; got != ids[4] {
		t.Errorf("offset 2 starts at %v, want %v", got, ids[4])
	}
	if v, present := page["total"]; !present {
		t.Error("total missing")
	} else if r := h.Call(t, "GET", connectionsPath, nil).JSON(t); r["total"] != nil {
		t.Errorf("total without include_total = %v, want null (got %v)", r["total"], v)
	}

	// Archived connections are hidden unless asked for.
	if r := h.Call(t, "DELETE", connPath(ids[0]), nil); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if n := count(h.Call(t, "GET", connectionsPath, nil)); n != 6 {
		t.Errorf("after archiving: %d results, want 6", n)
	}
	if n := count(h.Call(t, "POST", connectionsPath+"/list", map[string]any{"status": "ARCHIVED"})); n != 1 {
		t.Errorf("status=ARCHIVED: %d results, want 1", n)
	}
}

func TestCursorIsStableUnderConcurrentInserts(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	for i := range 4 {
		create(t, h, s3Create(fmt.Sprintf("old %d", i)))
	}
	first := h.Call(t, "GET", connectionsPath+"?limit=2", nil).JSON(t)
	cursor := first["pagination"].(map[string]any)["next_cursor"].(string)
	create(t, h, s3Create("inserted meanwhile"))
	second := h.Call(t, "GET", connectionsPath+"?limit=2&cursor="+cursor, nil).JSON(t)
	for _, r := range second["results"].([]any) {
		if name := r.(map[string]any)["name"]; name == "inserted meanwhile" || name == "old 3" || name == "old 2" {
			t.Errorf("page 2 repeats or shifts: %v", name)
		}
	}
	if n := len(second["results"].([]any)); n != 2 {
		t.Errorf("page 2 has %d results, want 2", n)
	}
}

func pgCreate(name string) map[string]any {
	return map[string]any{
		"name":          name,
		"provider_type": "postgresql",
		"provider_config": map[string]any{"host": "db.example.invalid", "database": "app",
			"credentials": map[string]any{"type": "username_password", "username": "reader", "password": "pg-secret-" + name}},
		"test_before_save": false,
	}
}

func TestPatch(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Create("patch me"))
	id := c.ConnectionId

	r := h.Call(t, "PATCH", connPath(id), map[string]any{"name": "patched", "description": "new", "metadata": map[string]any{"k": "v"}})
	if r.Status != 200 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	p := model(t, r)
	if p.Name != "patched" || p.Description == nil || *p.Description != "new" || string(p.Metadata) != `{"k":"v"}` {
		t.Errorf("patched = %+v", p)
	}
	if !p.UpdatedAt.After(c.UpdatedAt) {
		t.Error("updated_at did not change")
	}
	if r := h.Call(t, "PATCH", connPath(id), map[string]any{"description": nil}); r.JSON(t)["description"] != nil {
		t.Errorf("description after null = %v", r.JSON(t)["description"])
	}

	s := h.Call(t, "PATCH", connPath("patched"), map[string]any{"status": "SUSPENDED"}).JSON(t)
	if s["status"] != "SUSPENDED" || s["is_active"] != false || s["status_reason"] != "suspended by user" {
		t.Errorf("suspend: %v %v %v", s["status"], s["is_active"], s["status_reason"])
	}
	a := h.Call(t, "PATCH", connPath(id), map[string]any{"is_active": true}).JSON(t)
	if a["status"] != "ACTIVE" || a["is_active"] != true {
		t.Errorf("is_active=true gave %v %v", a["status"], a["is_active"])
	}

	for _, tc := range []struct {
		name  string
		body  any
		field []string
	}{
		{"status FAILED", map[string]any{"status": "FAILED"}, []string{"body", "status"}},
		{"status ARCHIVED", map[string]any{"status": "ARCHIVED"}, []string{"body", "status"}},
		{"provider_type", map[string]any{"provider_type": "postgresql"}, []string{"body", "provider_type"}},
		{"unknown field", map[string]any{"nmae": "typo"}, []string{"body", "nmae"}},
		{"read-only field", map[string]any{"connection_id": "conn_aaaaaaaaaaaaaaa"}, []string{"body", "connection_id"}},
		{"empty name", map[string]any{"name": ""}, []string{"body", "name"}},
		{"name list", map[string]any{"name": "list"}, []string{"body", "name"}},
		{"status and is_active disagree", map[string]any{"status": "ACTIVE", "is_active": false}, []string{"body", "is_active"}},
		{"merged config breaks the schema", map[string]any{"provider_config": map[string]any{"bucket": "x"}}, []string{"body", "provider_config", "bucket"}},
		{"unknown config field", map[string]any{"provider_config": map[string]any{"buckt": "typo"}}, []string{"body", "provider_config", "buckt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantFieldError(t, h.Call(t, "PATCH", connPath(id), tc.body), tc.field...)
		})
	}

	create(t, h, s3Create("taken"))
	wantError(t, h.Call(t, "PATCH", connPath(id), map[string]any{"name": "taken"}), 409, "AlreadyExistsError")

	h.Call(t, "DELETE", connPath(id), nil)
	wantError(t, h.Call(t, "PATCH", connPath(id), map[string]any{"name": "again"}), 409, "ConflictError")
}

func TestPatchSendingBackTheRedactedConfigKeepsSecrets(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Create("roundtrip"))
	id := c.ConnectionId
	got := h.Call(t, "GET", connPath(id), nil).JSON(t)
	cfg := got["provider_config"].(map[string]any)
	cfg["bucket"] = "renamed-bucket"
	r := h.Call(t, "PATCH", connPath(id), map[string]any{"provider_config": cfg, "test_before_save": false})
	if r.Status != 200 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if b := r.JSON(t)["provider_config"].(map[string]any)["bucket"]; b != "renamed-bucket" {
		t.Errorf("bucket = %v", b)
	}
	conn, err := h.Store.GetConnection(t.Context(), h.Tenant.OrgID, id)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := h.Store.Secrets(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := secrets.Plain()["credentials"].(map[string]any)["secret_access_key"]; got != "s3-secret-roundtrip" {
		t.Errorf("secret after round trip = %q", got)
	}

	// A marker where no secret is stored is refused, not stored.
	r = h.Call(t, "PATCH", connPath(id), map[string]any{"test_before_save": false, "provider_config": map[string]any{
		"credentials": map[string]any{"session_token": "***REDACTED***"}}})
	wantFieldError(t, r, "body", "provider_config", "credentials", "session_token")
}

// The marker means "keep what is stored"; on create nothing is stored, so a
// client that pasted a GET answer into a create is told, and nothing is saved.
func TestCreateRefusesTheRedactionMarkerAsASecret(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	body := s3Create("pasted")
	body["provider_config"].(map[string]any)["credentials"].(map[string]any)["secret_access_key"] = "***REDACTED***"
	wantFieldError(t, h.Call(t, "POST", connectionsPath, body), "body", "provider_config", "credentials", "secret_access_key")
	wantError(t, h.Call(t, "GET", connPath("pasted"), nil), 404, "NotFoundError")
}

func TestDeleteArchives(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Create("to archive"))
	id := c.ConnectionId

	r := h.Call(t, "DELETE", connPath("to archive"), nil)
	if r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	a := r.JSON(t)
	if a["status"] != "ARCHIVED" || a["is_active"] != false || len(a["secret_fields"].([]any)) != 0 {
		t.Errorf("archived = %v %v %v", a["status"], a["is_active"], a["secret_fields"])
	}
	// Repeating by id answers the same archived connection; the name no longer finds it.
	again := h.Call(t, "DELETE", connPath(id), nil)
	if again.Status != 200 || again.JSON(t)["status"] != "ARCHIVED" {
		t.Errorf("second delete by id: %d %s", again.Status, again.Body)
	}
	wantError(t, h.Call(t, "DELETE", connPath("to archive"), nil), 404, "NotFoundError")
	if g := h.Call(t, "GET", connPath(id), nil); g.JSON(t)["status"] != "ARCHIVED" {
		t.Errorf("GET archived by id: %s", g.Body)
	}
	wantError(t, h.Call(t, "POST", connPath(id)+"/test", nil), 409, "ConflictError")
	// The name is free again.
	create(t, h, s3Create("to archive"))
	conn, err := h.Store.GetConnection(t.Context(), h.Tenant.OrgID, id)
	if err != nil {
		t.Fatal(err)
	}
	if conn.SecretKeyID != nil {
		t.Error("archived connection still has encrypted secrets")
	}
}
