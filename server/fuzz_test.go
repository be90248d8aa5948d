package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
)

// The fuzz targets drive the real server (validator, handlers, store, a
// real Postgres) over HTTP. Whatever arrives: never a 5xx, every error in
// the envelope, every answer as the spec says, and a refused request
// stores nothing. `go test` runs the seeds below; `make fuzz` explores.

type fuzzServer struct {
	h          *connvaulttest.Harness
	mu         sync.Mutex
	violations []string
}

func newFuzzServer(f *testing.F) *fuzzServer {
	fs := &fuzzServer{}
	fs.h = connvaulttest.NewServer(f, connvaulttest.Options{
		CheckTimeout: 300 * time.Millisecond,
		OnResponseViolation: func(method, path string, status int, err error) {
			fs.mu.Lock()
			defer fs.mu.Unlock()
			fs.violations = append(fs.violations, fmt.Sprintf("%s %s -> %d: %v", method, path, status, err))
		},
	})
	return fs
}

// check asserts what holds for every answer.
func (fs *fuzzServer) check(t *testing.T, r connvaulttest.Response) {
	t.Helper()
	if r.Status >= 500 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	if r.Status >= 400 {
		var env struct {
			Success *bool `json:"success"`
			Status  int   `json:"status"`
			Error   struct{ Type, Message string }
		}
		if err := json.Unmarshal(r.Body, &env); err != nil || env.Success == nil || *env.Success || env.Status != r.Status || env.Error.Type == "" || env.Error.Message == "" {
			t.Fatalf("not the error envelope (%d): %s", r.Status, r.Body)
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.violations) > 0 {
		v := fs.violations
		fs.violations = nil
		t.Fatalf("answers not as the spec says: %v", v)
	}
}

func (fs *fuzzServer) count(t *testing.T) int {
	return liveCount(t, fs.h)
}

var createSeeds = []string{
	`{"name":"s3","provider_type":"s3","test_before_save":false,"provider_config":{"bucket":"my-bucket","region":"us-east-1","endpoint_url":"https://s3.example.invalid","credentials":{"type":"access_key","access_key_id":"AKIA","secret_access_key":"s"}}}`,
	`{"name":"feed","provider_type":"rss","test_before_save":false,"provider_config":{"feed_url":"https://feed.example.invalid/rss"},"metadata":{"a":[1,2.5,{"b":null}]}}`,
	`{"name":"api","provider_type":"http_api","test_before_save":false,"provider_config":{"base_url":"https://api.example.invalid","item_id_field":"id","http_method":"POST","request_body":{"n":1e308},"credentials":{"type":"http_headers","headers":{"X-Key":"v"}}}}`,
	`{"name":"pg","provider_type":"postgresql","test_before_save":false,"provider_config":{"host":"db.example.invalid","database":"d","port":5432,"credentials":{"type":"username_password","username":"u","password":"p"}}}`,
	`{"name":"a\u0000b","provider_type":"rss","provider_config":{"feed_url":"https://feed.example.invalid"}}`,
	`{"name":"n","metadata":{"x":1e309},"provider_type":"rss","provider_config":{"feed_url":"https://feed.example.invalid"}}`,
	"{\"name\":\"\xff\",\"provider_type\":\"rss\",\"provider_config\":{\"feed_url\":\"https://f.example.invalid\"}}",
	`{"name":"list","provider_type":"rss","test_before_save":false,"provider_config":{"feed_url":"https://f.example.invalid"}}`,
	`{"name":"t","provider_type":"rss","provider_config":{"feed_url":"https://f.example.invalid"}} trailing`,
	`{"name":"\ud800","provider_type":"rss","test_before_save":null,"description":null,"provider_config":{"feed_url":"http://127.0.0.1:1/x"}}`,
	`{"name":"s","provider_type":"s3","provider_config":{"bucket":"bkt","credentials":{"type":"access_key","access_key_id":"A","secret_access_key":"***REDACTED***"}}}`,
	`[]`, `null`, `{"name":{"$gt":""}}`, `{"provider_type":"dropbox"}`, ``,
}

func FuzzCreate(f *testing.F) {
	fs := newFuzzServer(f)
	for _, s := range createSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		before := fs.count(t)
		r := fs.h.Call(t, "POST", connectionsPath, body)
		fs.check(t, r)
		if r.Status == 200 {
			fs.h.Call(t, "DELETE", connPath(model(t, r).ConnectionId), nil) // keep the tenant small
			return
		}
		if after := fs.count(t); after != before {
			t.Fatalf("a refused create (%d) stored something: %d -> %d connections", r.Status, before, after)
		}
	})
}

func FuzzPatch(f *testing.F) {
	fs := newFuzzServer(f)
	c := create(f, fs.h, s3Create("fuzzed patch"))
	id := c.ConnectionId
	for _, s := range []string{
		`{"name":"renamed"}`, `{"description":null}`, `{"metadata":{"k":"v"}}`, `{"status":"SUSPENDED"}`, `{"status":"ACTIVE"}`,
		`{"is_active":false}`, `{"provider_config":{"bucket":"other-bucket"},"test_before_save":false}`,
		`{"provider_config":{"credentials":{"type":"iam_role"}}}`, `{}`, `{"name":"x\u0000"}`, `{"metadata":{"n":-1e400}}`,
		`{"name":"y"}{}`, `{"status":"ARCHIVED"}`, `{"provider_type":"rss"}`, `{"name":"list"}`, `{"test_before_save":null}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		before, err := fs.h.Store.GetConnection(t.Context(), fs.h.Tenant.OrgID, id)
		if err != nil {
			t.Fatal(err)
		}
		r := fs.h.Call(t, "PATCH", connPath(id), body)
		fs.check(t, r)
		if r.Status == 200 {
			return
		}
		after, err := fs.h.Store.GetConnection(t.Context(), fs.h.Tenant.OrgID, id)
		if err != nil {
			t.Fatal(err)
		}
		if after.Version != before.Version {
			t.Fatalf("a refused PATCH (%d) wrote: version %d -> %d", r.Status, before.Version, after.Version)
		}
	})
}

func FuzzList(f *testing.F) {
	fs := newFuzzServer(f)
	create(f, fs.h, s3Create("listed"))
	for _, s := range []struct{ query, body string }{
		{"limit=2&include_total=true", `{"provider_type":"s3"}`},
		{"cursor=AAZhAKdUYedjb25uX1ZxY3I2REtueXFIS1ZrUQ", `{}`},
		{"search=%25_%5C", `{"search":"%_\\"}`},
		{"search=%00", `{"search":"\u0000"}`},
		{"limit=0&offset=-1", `{"status":"ARCHIVED"}`},
		{"limit=5&limit=6", `null`},
		{"search=%FF", `{"is_active":"yes"}`},
	} {
		f.Add(s.query, s.body)
	}
	f.Fuzz(func(t *testing.T, query, body string) {
		if _, err := url.Parse("http://h/?" + query); err != nil || strings.ContainsAny(query, "# ") {
			return // not a query string a client can send
		}
		fs.check(t, fs.h.Call(t, "GET", connectionsPath+"?"+query, nil))
		fs.check(t, fs.h.Call(t, "POST", connectionsPath+"/list?"+query, body))
	})
}

func FuzzIdentifier(f *testing.F) {
	fs := newFuzzServer(f)
	create(f, fs.h, s3Create("known name"))
	for _, s := range []string{"known name", "conn_aaaaaaaaaaaaaaa", "conn_", "list", "%00", "\x00", "\xff", "\xed\xa0\x80", "a/b", "..", strings.Repeat("n", 101), " "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ident string) {
		if ident == "" {
			return
		}
		p := connectionsPath + "/" + url.PathEscape(ident)
		fs.check(t, fs.h.Call(t, "GET", p, nil))
		fs.check(t, fs.h.Call(t, "POST", p+"/test", nil))
		fs.check(t, fs.h.Call(t, "PATCH", p, map[string]any{"description": "d"}))
	})
}
