// Package providertest holds local doubles of the providers' services:
// httptest servers that speak each provider's real wire format, check
// credentials for real and refuse wrong ones the way the provider does.
// They count requests, so tests can assert how often a provider was called.
package providertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
)

// Server is what every HTTP double embeds: an httptest server on loopback
// that counts the requests it receives, names the endpoints that point a
// provider at it, and stops when the test ends.
type Server struct {
	// URL is the double's base URL.
	URL string
	// Requests counts every request the double received.
	Requests atomic.Int64

	srv       *httptest.Server
	endpoints map[string]string // endpoint name -> path under URL
	last      atomic.Pointer[url.URL]
}

// LastURL is the URL (path and query) of the last request the double
// received, nil before the first: tests read the parameters a client sent
// (a page size, a page token).
func (s *Server) LastURL() *url.URL { return s.last.Load() }

// start serves handler over HTTP until the test ends. endpoints maps the
// provider's endpoint names (CONNVAULT_PROVIDER_ENDPOINTS) to paths under
// URL.
func (s *Server) start(t TB, handler http.HandlerFunc, endpoints map[string]string) {
	t.Helper()
	s.listen(t, httptest.NewServer, handler, endpoints)
}

// startTLS is start behind HTTPS with httptest's self-signed certificate,
// which no client trusts unless given Client.
func (s *Server) startTLS(t TB, handler http.HandlerFunc, endpoints map[string]string) {
	t.Helper()
	s.listen(t, httptest.NewTLSServer, handler, endpoints)
}

func (s *Server) listen(t TB, newServer func(http.Handler) *httptest.Server, handler http.HandlerFunc, endpoints map[string]string) {
	s.endpoints = endpoints
	s.srv = newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Requests.Add(1)
		u := *r.URL
		s.last.Store(&u)
		handler(w, r)
	}))
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
}

// Endpoints points the provider at the double: the overrides a test puts
// in Env.Endpoints. Doubles whose configs carry their own URL have none.
func (s *Server) Endpoints() map[string]string {
	out := make(map[string]string, len(s.endpoints))
	for name, path := range s.endpoints {
		out[name] = s.URL + path
	}
	return out
}

// Client is an HTTP client for the double's server (it trusts the TLS
// double's certificate).
func (s *Server) Client() *http.Client { return s.srv.Client() }

// writeJSON answers v as JSON with status; the doubles' shared reply.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
