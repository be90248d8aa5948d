package providertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
)

// Bearer is a double for providers checked with one token-authenticated
// read: Instagram's Graph API (token in the query), TikTok's user info and
// Bright Data's zones. Each refuses a wrong token in its provider's own
// error format, echoing the token back in the message as some APIs do.
type Bearer struct {
	URL      string
	Token    string
	Requests atomic.Int64
	provider string
}

// Endpoints returns the overrides that point the provider at the double.
func (d *Bearer) Endpoints() map[string]string {
	switch d.provider {
	case "instagram":
		return map[string]string{"instagram.graph_base": d.URL}
	case "tiktok":
		return map[string]string{"tiktok.api_base": d.URL}
	}
	return map[string]string{"brightdata.api_base": d.URL}
}

func newBearer(t TB, provider, token string, h func(*Bearer, http.ResponseWriter, *http.Request)) *Bearer {
	t.Helper()
	d := &Bearer{Token: token, provider: provider}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.Requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		h(d, w, r)
	}))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// NewInstagram serves GET /me and GET /{business-account-id} of the
// Instagram Graph API for user 17841400000000001 (@connvault_test).
func NewInstagram(t TB, token, businessAccountID string) *Bearer {
	return newBearer(t, "instagram", token, func(d *Bearer, w http.ResponseWriter, r *http.Request) {
		got := r.URL.Query().Get("access_token")
		if got != d.Token {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
				"message": "Invalid OAuth access token - Cannot parse access token " + got, "type": "OAuthException", "code": 190, "fbtrace_id": "AbC"}})
			return
		}
		switch strings.TrimPrefix(r.URL.Path, "/") {
		case "me":
			writeJSON(w, 200, map[string]any{"id": "17841400000000001", "username": "connvault_test"})
		case businessAccountID:
			writeJSON(w, 200, map[string]any{"id": businessAccountID})
		default:
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
				"message": "Unsupported get request.", "type": "GraphMethodException", "code": 100}})
		}
	})
}

// NewTikTok serves GET /v2/user/info/ for open_id "open-123".
func NewTikTok(t TB, token string) *Bearer {
	return newBearer(t, "tiktok", token, func(d *Bearer, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/user/info/" {
			writeJSON(w, 404, map[string]any{"error": map[string]any{"code": "invalid_params", "message": "unknown path"}})
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+d.Token {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"data": map[string]any{},
				"error": map[string]any{"code": "access_token_invalid", "message": "The access token is invalid or not found in the request: " + r.Header.Get("Authorization"), "log_id": "20261124"}})
			return
		}
		writeJSON(w, 200, map[string]any{"data": map[string]any{"user": map[string]any{"open_id": "open-123", "display_name": "Connvault Test"}},
			"error": map[string]any{"code": "ok", "message": "", "log_id": "20261124"}})
	})
}

// NewBrightData serves GET /zone/get_active_zones (zone "web_unlocker1")
// and GET /datasets/v3/snapshots for dataset "gd_l1viktl72bvl7bjuj0".
func NewBrightData(t TB, token string) *Bearer {
	return newBearer(t, "brightdata", token, func(d *Bearer, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+d.Token {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte("Invalid token " + r.Header.Get("Authorization")))
			return
		}
		switch r.URL.Path {
		case "/zone/get_active_zones":
			writeJSON(w, 200, []map[string]any{{"name": "web_unlocker1", "type": "unblocker"}})
		case "/datasets/v3/snapshots":
			if r.URL.Query().Get("dataset_id") != "gd_l1viktl72bvl7bjuj0" {
				writeJSON(w, 404, map[string]any{"error": "dataset_not_found"})
				return
			}
			writeJSON(w, 200, []map[string]any{{"id": "s_abc", "status": "ready"}})
		default:
			writeJSON(w, 404, map[string]any{"error": "not_found"})
		}
	})
}
