package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
)

// HTTPAPI is a JSON API double. GET or POST /items answers
// {"data": {"items": [...]}, "meta": {"next": "c2", "end": null}}; /list
// answers a root array, /empty an empty items array, /text plain text. A
// request without "Authorization: Bearer <Token>" gets a 401 whose JSON
// body echoes the header it got, as careless APIs do; a POST whose body
// is not JSON gets a 400.
type HTTPAPI struct {
	Server
	Token string

	mu        sync.Mutex
	lastQuery url.Values
}

// NewHTTPAPI starts the double; it stops when the test ends.
func NewHTTPAPI(t TB, token string) *HTTPAPI {
	t.Helper()
	d := &HTTPAPI{Token: token}
	d.start(t, d.serve, nil)
	return d
}

// LastQuery is the query string of the last request, to see which page
// parameters a check asked for.
func (d *HTTPAPI) LastQuery() url.Values {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastQuery
}

func (d *HTTPAPI) serve(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.lastQuery = r.URL.Query()
	d.mu.Unlock()
	if got := r.Header.Get("Authorization"); got != "Bearer "+d.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "unauthorized", "detail": "bad Authorization header: " + got})
		return
	}
	if r.Method == http.MethodPost && r.ContentLength != 0 {
		var v any
		if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_json"})
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/items":
		fmt.Fprint(w, `{"data":{"items":[{"id":"a1","title":"first"},{"id":9007199254740993,"title":"second"}]},"meta":{"next":"c2","end":null}}`)
	case "/list":
		fmt.Fprint(w, `[{"id":"a1"},{"id":"a2"},{"id":"a3"}]`)
	case "/empty":
		fmt.Fprint(w, `{"data":{"items":[]}}`)
	case "/lines":
		// JSON Lines (application/x-ndjson): one item per line.
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprint(w, "{\"id\":\"l1\",\"updated_at\":\"2026-11-30T10:00:00Z\"}\n{\"id\":\"l2\",\"updated_at\":\"2026-11-30T11:00:00Z\"}\n")
	case "/agent":
		// Answers only the user agent it was configured to expect.
		if ua := r.Header.Get("User-Agent"); ua != "sync-bot/2.0" {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": "forbidden", "detail": "user agent " + ua + " is not allowed"})
			return
		}
		fmt.Fprint(w, `[{"id":"a1"}]`)
	case "/text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "plain text")
	default:
		http.NotFound(w, r)
	}
}
