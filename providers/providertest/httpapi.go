package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
)

// HTTPAPI is a JSON API double. GET or POST /items answers
// {"data": {"items": [...]}, "meta": {"next": "..."}}; /empty has an empty
// array, /text is not JSON. A request without "Authorization: Bearer
// <Token>" gets a 401 whose body echoes the header it got.
type HTTPAPI struct {
	URL      string
	Token    string
	Requests atomic.Int64
}

// NewHTTPAPI starts the double.
func NewHTTPAPI(t TB, token string) *HTTPAPI {
	t.Helper()
	d := &HTTPAPI{Token: token}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

func (d *HTTPAPI) serve(w http.ResponseWriter, r *http.Request) {
	d.Requests.Add(1)
	if got := r.Header.Get("Authorization"); got != "Bearer "+d.Token {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": "unauthorized", "detail": "bad Authorization header: " + got})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/items":
		fmt.Fprint(w, `{"data":{"items":[{"id":"a1","title":"first"},{"id":"a2","title":"second"}]},"meta":{"next":"c2"}}`)
	case "/empty":
		fmt.Fprint(w, `{"data":{"items":[]}}`)
	case "/text":
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "plain text")
	default:
		http.NotFound(w, r)
	}
}
