package server_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/gen/client"
	"github.com/connvault/connvault/store"
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
		page := listPage(t, h.Call(t, "POST", path, map[string]any{}))
		for _, res := range page.Results {
			seen = append(seen, res.ConnectionId)
		}
		if page.Pagination.NextCursor == nil {
			break
		}
		cursor = *page.Pagination.NextCursor
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
		return len(listPage(t, r).Results)
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

	// Offset paging: the total in every answer (Mixpeek's SDK requires an
	// integer) and links to the neighbouring pages that lead to them.
	page := listPage(t, h.Call(t, "GET", connectionsPath+"?limit=2&offset=2&include_total=true", nil))
	pg := page.Pagination
	if page.Total != 7 || pg.Total != 7 || pg.TotalPages != 4 || pg.Page != 2 || pg.PageSize != 2 ||
		strOf(pg.NextPage) != connectionsPath+"?limit=2&offset=4" || strOf(pg.PreviousPage) != connectionsPath+"?limit=2&offset=0" {
		t.Errorf("pagination = %+v next %q previous %q, total = %d", pg, strOf(pg.NextPage), strOf(pg.PreviousPage), page.Total)
	}
	if got := page.Results[0].ConnectionId; got != ids[4] {
		t.Errorf("offset 2 starts at %v, want %v", got, ids[4])
	}
	if next := listPage(t, h.Call(t, "GET", *pg.NextPage, nil)); len(next.Results) != 2 || next.Results[0].ConnectionId != ids[2] {
		t.Errorf("following next_page: %+v", next.Results)
	}
	for _, tc := range []struct{ query, why string }{
		{"", "one page holds all"},
		{"?limit=3", "a full page"},
		{"?limit=3&offset=6", "the last page"},
		{"?offset=100", "a page past the end"},
		{"?limit=3&cursor=" + store.Cursor{CreatedAt: time.Now().Add(time.Hour), ID: ids[0]}.Encode(), "a cursor page"},
		{"?limit=3&cursor=" + store.Cursor{CreatedAt: time.Now().Add(-time.Hour), ID: ids[0]}.Encode(), "a cursor page past the end"},
	} {
		if r := listPage(t, h.Call(t, "GET", connectionsPath+tc.query, nil)); r.Total != 7 || r.Pagination.Total != 7 {
			t.Errorf("%s (%q): total %d, pagination.total %d, want 7", tc.why, tc.query, r.Total, r.Pagination.Total)
		}
	}
	// Past the end of a filtered list, the total is the filter's.
	for query, want := range map[string]int{
		"?provider_type=postgresql&limit=1":          3,
		"?provider_type=postgresql&offset=50":        3,
		"?provider_type=s3&search=bucket&offset=50":  4,
		"?provider_type=s3&search=bucket&limit=1":    4,
		"?provider_type=box&offset=50":               0,
		"?provider_type=box":                         0,
		"?status=SUSPENDED&offset=10":                0,
		"?is_active=true&provider_type=s3&offset=10": 4,
	} {
		if r := listPage(t, h.Call(t, "GET", connectionsPath+query, nil)); r.Total != want || r.Pagination.Total != want {
			t.Errorf("%q: total %d, pagination.total %d, want %d", query, r.Total, r.Pagination.Total, want)
		}
	}
	// GET links keep the filters; a walk by next_page sees every match once.
	var walked []string
	link := connectionsPath + "?provider_type=s3&search=bucket&limit=3"
	for pages := 0; link != ""; pages++ {
		r := listPage(t, h.Call(t, "GET", link, nil))
		if r.Total != 4 {
			t.Errorf("%s: total %d, want 4", link, r.Total)
		}
		for _, c := range r.Results {
			walked = append(walked, c.ConnectionId)
		}
		link = strOf(r.Pagination.NextPage)
		if pages > 3 {
			t.Fatal("next_page does not end")
		}
	}
	if want := []string{ids[6], ids[4], ids[2], ids[0]}; fmt.Sprint(walked) != fmt.Sprint(want) {
		t.Errorf("walk by next_page = %v, want %v", walked, want)
	}
	// POST's filters travel in its body; its links carry only the paging.
	post := listPage(t, h.Call(t, "POST", connectionsPath+"/list?limit=3", map[string]any{"provider_type": "postgresql"}))
	if post.Total != 3 || post.Pagination.NextPage != nil || post.Pagination.TotalPages != 1 {
		t.Errorf("POST one page: %+v", post.Pagination)
	}
	post = listPage(t, h.Call(t, "POST", connectionsPath+"/list?limit=2", map[string]any{"provider_type": "postgresql"}))
	if strOf(post.Pagination.NextPage) != connectionsPath+"/list?limit=2&offset=2" || post.Total != 3 {
		t.Errorf("POST next_page = %q, total %d", strOf(post.Pagination.NextPage), post.Total)
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
	first := listPage(t, h.Call(t, "GET", connectionsPath+"?limit=2", nil))
	if first.Pagination.NextCursor == nil {
		t.Fatal("no next cursor")
	}
	create(t, h, s3Create("inserted meanwhile"))
	second := listPage(t, h.Call(t, "GET", connectionsPath+"?limit=2&cursor="+*first.Pagination.NextCursor, nil))
	for _, r := range second.Results {
		if name := r.Name; name == "inserted meanwhile" || name == "old 3" || name == "old 2" {
			t.Errorf("page 2 repeats or shifts: %v", name)
		}
	}
	if n := len(second.Results); n != 2 {
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
	var metadata map[string]string
	if err := json.Unmarshal(p.Metadata, &metadata); err != nil || p.Name != "patched" || p.Description == nil || *p.Description != "new" || metadata["k"] != "v" {
		t.Errorf("patched = %+v", p)
	}
	if !p.UpdatedAt.After(c.UpdatedAt) {
		t.Error("updated_at did not change")
	}
	if r := h.Call(t, "PATCH", connPath(id), map[string]any{"description": nil}); model(t, r).Description != nil {
		t.Errorf("description after null = %s", r.Body)
	}

	s := model(t, h.Call(t, "PATCH", connPath("patched"), map[string]any{"status": "SUSPENDED"}))
	if s.Status != client.ConnectionStatusSUSPENDED || s.IsActive || s.StatusReason == nil || *s.StatusReason != "suspended by user" {
		t.Errorf("suspend: %+v", s)
	}
	a := model(t, h.Call(t, "PATCH", connPath(id), map[string]any{"is_active": true}))
	if a.Status != client.ConnectionStatusACTIVE || !a.IsActive {
		t.Errorf("is_active=true gave %v %v", a.Status, a.IsActive)
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
	var cfg map[string]any // the config exactly as read, markers included
	if err := json.Unmarshal(get(t, h, id).ProviderConfig, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["bucket"] = "renamed-bucket"
	var patched client.S3Config
	if err := json.Unmarshal(model(t, h.Call(t, "PATCH", connPath(id), map[string]any{"provider_config": cfg, "test_before_save": false})).ProviderConfig, &patched); err != nil {
		t.Fatal(err)
	}
	if patched.Bucket == nil || *patched.Bucket != "renamed-bucket" {
		t.Errorf("bucket = %v", patched.Bucket)
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
	r := h.Call(t, "PATCH", connPath(id), map[string]any{"test_before_save": false, "provider_config": map[string]any{
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

	a := model(t, h.Call(t, "DELETE", connPath("to archive"), nil))
	if a.Status != client.ConnectionStatusARCHIVED || a.IsActive || len(a.SecretFields) != 0 {
		t.Errorf("archived = %v %v %v", a.Status, a.IsActive, a.SecretFields)
	}
	// Repeating by id answers the same archived connection; the name no longer finds it.
	again := h.Call(t, "DELETE", connPath(id), nil)
	if again.Status != 200 || model(t, again).Status != "ARCHIVED" {
		t.Errorf("second delete by id: %d %s", again.Status, again.Body)
	}
	wantError(t, h.Call(t, "DELETE", connPath("to archive"), nil), 404, "NotFoundError")
	if g := h.Call(t, "GET", connPath(id), nil); model(t, g).Status != "ARCHIVED" {
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

// A full page's total comes from the counters the database keeps per
// organization, provider and status (migration 007); the last page's from
// the rows themselves. Through creates, suspends, resumes and archives, run
// concurrently so opposite status moves cross, the two must agree for every
// filter.
func TestListTotalsFollowEveryChange(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	var ids []string
	for i := range 12 {
		body := s3Create(fmt.Sprintf("counted %02d", i))
		if i%3 == 0 {
			body = pgCreate(fmt.Sprintf("counted pg %02d", i))
		}
		ids = append(ids, create(t, h, body).ConnectionId)
	}
	var wg sync.WaitGroup
	statuses := make([]int, len(ids))
	for i, id := range ids {
		wg.Go(func() {
			switch i % 4 {
			case 0: // suspended and resumed: back where it was
				statuses[i] = h.Call(t, "PATCH", connPath(id), map[string]any{"status": "SUSPENDED"}).Status
				if statuses[i] == 200 {
					statuses[i] = h.Call(t, "PATCH", connPath(id), map[string]any{"status": "ACTIVE"}).Status
				}
			case 1:
				statuses[i] = h.Call(t, "PATCH", connPath(id), map[string]any{"is_active": false}).Status
			case 2:
				statuses[i] = h.Call(t, "DELETE", connPath(id), nil).Status
			default:
				statuses[i] = 200
			}
		})
	}
	wg.Wait()
	for i, st := range statuses {
		if st != 200 {
			t.Fatalf("change %d answered %d", i, st)
		}
	}
	for _, filter := range []string{"", "provider_type=s3", "provider_type=postgresql", "status=ACTIVE", "status=SUSPENDED",
		"status=ARCHIVED", "is_active=true", "is_active=false", "provider_type=s3&is_active=false", "search=counted%20pg"} {
		rows := listPage(t, h.Call(t, "GET", connectionsPath+"?limit=1000&"+filter, nil))
		full := listPage(t, h.Call(t, "GET", connectionsPath+"?limit=1&"+filter, nil))
		if rows.Total != len(rows.Results) || full.Total != len(rows.Results) {
			t.Errorf("%q: %d rows, last-page total %d, full-page total %d", filter, len(rows.Results), rows.Total, full.Total)
		}
	}
	if n := listPage(t, h.Call(t, "GET", connectionsPath+"?limit=1&status=ARCHIVED", nil)).Total; n != 3 {
		t.Errorf("archived total %d, want 3", n)
	}
}

// Answers carry their length, a list page larger than net/http's buffer
// too: it is not sent chunked.
func TestAnswersCarryTheirLength(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	var id string
	for i := range 4 {
		id = create(t, h, s3Create(fmt.Sprintf("length %d", i))).ConnectionId
	}
	for _, path := range []string{connectionsPath + "?limit=4", connPath(id)} {
		r := h.Call(t, "GET", path, nil)
		if r.Status != 200 || r.Header.Get("Content-Length") != strconv.Itoa(len(r.Body)) {
			t.Errorf("GET %s: %d, Content-Length %q for %d bytes", path, r.Status, r.Header.Get("Content-Length"), len(r.Body))
		}
	}
}

// List pages are written from pooled buffers that go back to the pool once
// written: pages served at once to two organizations each carry their own
// rows, whole, every time.
func TestConcurrentListPagesKeepTheirOwnRows(t *testing.T) {
	t.Parallel()
	a := connvaulttest.NewServer(t, connvaulttest.Options{DatabaseURL: connvaulttest.DatabaseURL(t)})
	b := connvaulttest.NewServer(t, connvaulttest.Options{DatabaseURL: connvaulttest.DatabaseURL(t)})
	for i := range 30 {
		create(t, a, s3Create(fmt.Sprintf("pooled a %02d", i)))
		create(t, b, s3Create(fmt.Sprintf("pooled b %02d with a longer name, so pages differ in size", i)))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		h, prefix := a, "pooled a "
		if g%2 == 1 {
			h, prefix = b, "pooled b "
		}
		wg.Go(func() {
			for range 15 {
				page := listPage(t, h.Call(t, "GET", connectionsPath+"?limit=30", nil))
				if len(page.Results) != 30 {
					t.Errorf("%d results, want 30", len(page.Results))
					return
				}
				for _, c := range page.Results {
					if !strings.HasPrefix(c.Name, prefix) {
						t.Errorf("a page of %q holds %q", prefix, c.Name)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
