package providertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
)

// TikTokOpenID is the open_id the double's token belongs to.
const TikTokOpenID = "open-123"

// TikTok is a double of TikTok's v2 API: GET /v2/user/info/ with a bearer
// token. Like TikTok it always answers the {"data", "error": {"code",
// "message", "log_id"}} envelope, code "ok" on success, and a 401
// access_token_invalid whose message echoes the Authorization header it
// got, so tests prove the check never repeats a provider's error text.
type TikTok struct {
	URL   string
	Token string
	// Requests counts every request the double received.
	Requests atomic.Int64
	srv      *httptest.Server
}

// NewTikTok starts the double; it stops when the test ends.
func NewTikTok(t TB, token string) *TikTok {
	t.Helper()
	d := &TikTok{Token: token}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.srv.Close)
	d.URL = d.srv.URL
	return d
}

// Endpoints points the tiktok provider at the double.
func (d *TikTok) Endpoints() map[string]string { return map[string]string{"tiktok.api_base": d.URL} }

// Client is an HTTP client for the double's server.
func (d *TikTok) Client() *http.Client { return d.srv.Client() }

func tiktokError(code, message string) map[string]any {
	return map[string]any{"data": map[string]any{}, "error": map[string]any{"code": code, "message": message, "log_id": "202611241200000A1B2C3D4E5F"}}
}

func (d *TikTok) serve(w http.ResponseWriter, r *http.Request) {
	d.Requests.Add(1)
	if r.Method != http.MethodGet || r.URL.Path != "/v2/user/info/" {
		writeJSON(w, http.StatusNotFound, tiktokError("invalid_params", "The requested path does not exist."))
		return
	}
	if auth := r.Header.Get("Authorization"); auth != "Bearer "+d.Token {
		writeJSON(w, http.StatusUnauthorized, tiktokError("access_token_invalid", "The access token is invalid or not found in the request: "+auth))
		return
	}
	fields := strings.Split(r.URL.Query().Get("fields"), ",")
	user := map[string]any{}
	for _, f := range fields {
		switch f {
		case "open_id":
			user["open_id"] = TikTokOpenID
		case "display_name":
			user["display_name"] = "Connvault Test"
		case "":
		default:
			writeJSON(w, http.StatusBadRequest, tiktokError("invalid_params", "Invalid fields: "+f))
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"user": user}, "error": map[string]any{"code": "ok", "message": "", "log_id": "202611241200000A1B2C3D4E5F"}})
}
