package providertest

import (
	"net/http"
	"strings"
)

// TikTokOpenID is the open_id the double's token belongs to.
const TikTokOpenID = "open-123"

// TikTok is a double of TikTok's v2 API: GET /v2/user/info/ with a bearer
// token. Like TikTok it always answers the {"data", "error": {"code",
// "message", "log_id"}} envelope, code "ok" on success, and a 401
// access_token_invalid whose message echoes the Authorization header it
// got, so tests prove the check never repeats a provider's error text.
type TikTok struct {
	Server
	Token string
}

// NewTikTok starts the double; it stops when the test ends.
func NewTikTok(t TB, token string) *TikTok {
	t.Helper()
	d := &TikTok{Token: token}
	d.start(t, d.serve, map[string]string{"tiktok.api_base": ""})
	return d
}

func tiktokError(code, message string) map[string]any {
	return map[string]any{"data": map[string]any{}, "error": map[string]any{"code": code, "message": message, "log_id": "202611241200000A1B2C3D4E5F"}}
}

func (d *TikTok) serve(w http.ResponseWriter, r *http.Request) {
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
