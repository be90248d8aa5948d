package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/providers/providertest"
	"github.com/connvault/connvault/store"
)

// countingFeed is a provider endpoint that counts every request: a refused
// request must never reach it.
func countingFeed(t *testing.T) (string, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/feed.xml", &n
}

func liveCount(t *testing.T, h *connvaulttest.Harness) int {
	t.Helper()
	res, err := h.Store.ListConnections(t.Context(), store.ListFilter{OrgID: h.Tenant.OrgID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Connections)
}

// Text Postgres cannot store (NUL, invalid UTF-8) and numbers beyond
// float64 are refused with 422 before any provider check runs, wherever
// they stand in a body; nothing is stored.
func TestUnstorableBodiesAre422BeforeAnyCheck(t *testing.T) {
	t.Parallel()
	feed, calls := countingFeed(t)
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	rss := func(extra string) string {
		return `{"name":"feed","provider_type":"rss","provider_config":{"feed_url":"` + feed + `"` + extra + `}}`
	}
	api := func(extra string) string {
		return `{"name":"api","provider_type":"http_api","provider_config":{"base_url":"` + feed + `","item_id_field":"id"` + extra + `}}`
	}
	for _, tc := range []struct {
		name, body string
		field      []string
	}{
		{"NUL in name", `{"name":"a\u0000b","provider_type":"rss","provider_config":{"feed_url":"` + feed + `"}}`, []string{"body", "name"}},
		{"NUL in description", `{"name":"n","description":"\u0000","provider_type":"rss","provider_config":{"feed_url":"` + feed + `"}}`, []string{"body", "description"}},
		{"NUL in a metadata key", `{"name":"n","metadata":{"k\u0000":"v"},"provider_type":"rss","provider_config":{"feed_url":"` + feed + `"}}`, []string{"body", "metadata", "k\uFFFD"}},
		{"NUL in a metadata value", `{"name":"n","metadata":{"k":["x","\u0000"]},"provider_type":"rss","provider_config":{"feed_url":"` + feed + `"}}`, []string{"body", "metadata", "k", "1"}},
		{"NUL in a config string", rss(`,"user_agent":"ua\u0000"`), []string{"body", "provider_config", "user_agent"}},
		{"NUL in a header name", api(`,"credentials":{"type":"http_headers","headers":{"X-\u0000":"v"}}`), []string{"body", "provider_config", "credentials", "headers", "X-\uFFFD"}},
		{"invalid UTF-8", "{\"name\":\"\xff\xfe\",\"provider_type\":\"rss\",\"provider_config\":{\"feed_url\":\"" + feed + "\"}}", []string{"body"}},
		{"1e309 in metadata", `{"name":"n","metadata":{"big":1e309},"provider_type":"rss","provider_config":{"feed_url":"` + feed + `"}}`, []string{"body", "metadata", "big"}},
		{"-1e400 in request_body", api(`,"http_method":"POST","request_body":{"n":-1e400}`), []string{"body", "provider_config", "request_body", "n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantFieldError(t, h.Call(t, "POST", connectionsPath, tc.body), tc.field...)
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("refused creates reached the provider %d times", n)
	}
	if n := liveCount(t, h); n != 0 {
		t.Errorf("refused creates stored %d connections", n)
	}

	// The same on PATCH, and nothing changes.
	c := create(t, h, s3Create("patched"))
	id := c.ConnectionId
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"NUL in name", `{"name":"x\u0000"}`, 422},
		{"1e309 in metadata", `{"metadata":{"n":1e309}}`, 422},
		{"NUL in a config string", `{"provider_config":{"region":"\u0000"}}`, 422},
		{"empty object", `{}`, 422},
		{"trailing data", `{"name":"y"} {"name":"z"}`, 400},
		{"trailing garbage", `{"name":"y"}xyz`, 400},
	} {
		t.Run("PATCH "+tc.name, func(t *testing.T) {
			r := h.Call(t, "PATCH", connPath(id), tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			wantError(t, r, tc.status, map[int]string{400: "BadRequestError", 422: "ValidationError"}[tc.status])
		})
	}
	after := model(t, h.Call(t, "GET", connPath(id), nil))
	if !after.UpdatedAt.Equal(c.UpdatedAt) {
		t.Errorf("a refused PATCH changed the connection: %v -> %v", c.UpdatedAt, after.UpdatedAt)
	}

	// test_before_save: null means the default (test first).
	r := h.Call(t, "POST", connectionsPath, `{"name":"null default","provider_type":"rss","provider_config":{"feed_url":"`+feed+`"},"test_before_save":null,"description":"d"}`)
	if r.Status != 200 {
		t.Fatalf("test_before_save null: %d %s", r.Status, r.Body)
	}
	if calls.Load() != 1 || model(t, r).LastCheckedAt == nil {
		t.Errorf("test_before_save null did not test first (%d provider calls)", calls.Load())
	}
}

// Identifiers no connection can have are 404 on every by-id route; a search
// Postgres cannot compare is 422; a query parameter given twice is 422
// naming it.
func TestUnstorableIdentifiersAndQueries(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	for _, ident := range []string{"%00", "a%00b", "%FF", "%C3%28", "%ED%A0%80", strings.Repeat("n", 101)} {
		for _, route := range []struct{ method, suffix string }{{"GET", ""}, {"PATCH", ""}, {"DELETE", ""}, {"POST", "/test"}} {
			var body any
			if route.method == "PATCH" {
				body = map[string]any{"name": "x"}
			}
			r := h.Call(t, route.method, connectionsPath+"/"+ident+route.suffix, body)
			wantError(t, r, 404, "NotFoundError")
		}
	}
	for _, q := range []string{"search=%00", "search=%FF", "search=a%C3%28"} {
		wantFieldError(t, h.Call(t, "GET", connectionsPath+"?"+q, nil), "query", "search")
		wantFieldError(t, h.Call(t, "POST", connectionsPath+"/list?"+q, nil), "query", "search")
	}
	wantFieldError(t, h.Call(t, "POST", connectionsPath+"/list", `{"search":"a\u0000"}`), "body", "search")
	wantFieldError(t, h.Call(t, "GET", connectionsPath+"?limit=5&limit=6", nil), "query", "limit")
	wantFieldError(t, h.Call(t, "GET", connectionsPath+"?search=a&search=b", nil), "query", "search")
}

// rawExchange sends bytes as they are and returns the answer's status and
// body: for requests net/http answers by itself.
func rawExchange(t *testing.T, url, request string) (int, string, http.Header) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Close {
		// net/http takes "Connection: close" out of the header into Close.
		resp.Header.Set("Connection", "close")
	}
	return resp.StatusCode, string(b), resp.Header
}

// What net/http answers before any handler runs comes in the envelope too.
func TestProtocolErrorsComeInTheEnvelope(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	for _, tc := range []struct {
		name, request string
		status        int
		typ           string
	}{
		{"malformed request line", "GET /v1/organizations/connections HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400, "BadRequestError"},
		{"bad header", "GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 400, "BadRequestError"},
		{"headers too large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", 431, "RequestHeaderFieldsTooLargeError"},
		{"unsupported transfer encoding", "POST /v1/organizations/connections HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "NotImplementedError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, header := rawExchange(t, h.URL, tc.request)
			if status != tc.status || header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d (%s), want %d in JSON: %s", status, header.Get("Content-Type"), tc.status, body)
			}
			if !strings.Contains(body, `"success":false`) || !strings.Contains(body, `"type":"`+tc.typ+`"`) {
				t.Errorf("not the envelope: %s", body)
			}
		})
	}
}

// A chunked body over the limit is a 413, like one whose Content-Length
// says so.
func TestChunkedBodyOverTheLimitIs413(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	big := `{"name":"big","metadata":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`
	req, err := http.NewRequestWithContext(t.Context(), "POST", h.URL+connectionsPath, io.MultiReader(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.Tenant.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || !strings.Contains(string(b), `"success":false`) {
		t.Fatalf("chunked oversized body: %d %s", resp.StatusCode, b)
	}
}

// An unauthenticated request is answered 401 without its body being read:
// a client announcing a large body and sending none gets its answer at once.
func TestUnauthenticatedIsAnsweredBeforeTheBody(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	start := time.Now()
	status, body, header := rawExchange(t, h.URL, "POST /v1/organizations/connections HTTP/1.1\r\nHost: x\r\n"+
		"Content-Type: application/json\r\nContent-Length: 900000\r\n\r\n{\"name\":")
	if status != 401 || !strings.Contains(body, "UnauthorizedError") {
		t.Fatalf("status %d: %s", status, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("401 took %v: the server waited for the body", d)
	}
	if header.Get("Connection") != "close" {
		t.Errorf("Connection = %q, want close (the unread body must not be drained)", header.Get("Connection"))
	}
}

// Requests without a valid key are limited per client address.
func TestUnauthenticatedRequestsAreRateLimitedPerAddress(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{UnauthenticatedRateLimit: 1, UnauthenticatedBurst: 3})
	var statuses []int
	for range 5 {
		statuses = append(statuses, h.CallAs(t, "Bearer sk_guessing000000", "GET", connectionsPath, nil).Status)
	}
	if fmt.Sprint(statuses) != "[401 401 401 429 429]" {
		t.Fatalf("statuses %v, want three 401 then 429", statuses)
	}
	r := h.CallAs(t, "", "GET", connectionsPath, nil)
	wantError(t, r, 429, "TooManyRequestsError")
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After: %v", r.Header)
	}
	// A valid key is not held back by its address's failures.
	if r := h.Call(t, "GET", connectionsPath, nil); r.Status != 200 {
		t.Errorf("valid key after failures from the same address: %d", r.Status)
	}
}

// Every answer carries a request id: the client's when usable, in the
// header, the error envelope and the server's log lines.
func TestRequestIDs(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	req, err := http.NewRequestWithContext(t.Context(), "GET", h.URL+connPath("missing-one"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.Tenant.APIKey)
	req.Header.Set("X-Request-Id", "trace-abc.123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("X-Request-Id") != "trace-abc.123" || !strings.Contains(string(b), `"request_id":"trace-abc.123"`) {
		t.Fatalf("request id not echoed: %v %s", resp.Header.Get("X-Request-Id"), b)
	}
	if !strings.Contains(h.Logs(), `"request_id":"trace-abc.123"`) {
		t.Errorf("log lines lack the request id")
	}
	// An unusable id (log injection) is replaced by one of ours.
	req.Header.Set("X-Request-Id", "evil\" id")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if id := resp.Header.Get("X-Request-Id"); len(id) != 32 || strings.ContainsAny(id, "\" ") {
		t.Errorf("unusable client id answered as %q", id)
	}
	if r := h.Call(t, "GET", connectionsPath, nil); len(r.Header.Get("X-Request-Id")) != 32 {
		t.Errorf("no request id on a 200: %q", r.Header.Get("X-Request-Id"))
	}
}

// A provider answering with bytes Postgres cannot store (a PostgreSQL
// server sending a non-UTF-8 SQLSTATE) makes /test report a failure (200),
// never a 500, and the failure is recorded.
func TestProviderAnsweringInvalidBytes(t *testing.T) {
	t.Parallel()
	pg := providertest.NewPGWire(t, "\xff\xfe\x80Z9", "caf\xe9 \x01\x7f refused")
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, map[string]any{"name": "bytes", "provider_type": "postgresql", "test_before_save": false,
		"provider_config": map[string]any{"host": "127.0.0.1", "port": pg.Addr.Port, "database": "d", "ssl_mode": "disable",
			"credentials": map[string]any{"type": "username_password", "username": "u", "password": "pw-bytes"}}})
	id := c.ConnectionId
	for i := 1; i <= 5; i++ {
		r := h.Call(t, "POST", connPath(id)+"/test", nil)
		if r.Status != 200 || testResult(t, r).Success || !utf8.Valid(r.Body) {
			t.Fatalf("test %d: %d %q", i, r.Status, r.Body)
		}
	}
	if got := get(t, h, id); got.Status != "FAILED" || got.ConsecutiveFailures != 5 {
		t.Fatalf("after five failed tests: %v %v", got.Status, got.ConsecutiveFailures)
	}
	// A create tested against it is refused with a 422, not a 500.
	body := map[string]any{"name": "bytes 2", "provider_type": "postgresql",
		"provider_config": map[string]any{"host": "127.0.0.1", "port": pg.Addr.Port, "database": "d", "ssl_mode": "disable",
			"credentials": map[string]any{"type": "username_password", "username": "u", "password": "pw-bytes"}}}
	wantError(t, h.Call(t, "POST", connectionsPath, body), 422, "ValidationError")
}

// A create without a body is a 422 naming the missing body (the
// validator's ErrInvalidRequired branch).
func TestCreateWithoutABody(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	r := h.Call(t, "POST", connectionsPath, "")
	items := validationItems(wantError(t, r, 422, "ValidationError"))
	if len(items) == 0 || items[0].Type != "missing" || fmt.Sprint(items[0].Location) != "[body]" {
		t.Errorf("items %v", items)
	}
}
