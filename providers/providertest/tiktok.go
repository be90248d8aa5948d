package providertest

import (
	"net/http"
	"strings"
	"sync"
)

// TikTokOpenID is the open_id the double's token belongs to.
const TikTokOpenID = "open-123"

// TikTok is a double of TikTok's v2 API: GET /v2/user/info/ with a bearer
// token, and the token endpoint POST /v2/oauth/token/ (refresh-token
// grant of the client SetClient names). Like TikTok it always answers the
// {"data", "error": {"code", "message", "log_id"}} envelope, code "ok" on
// success, and a 401 access_token_invalid whose message echoes the
// Authorization header it got, so tests prove the check never repeats a
// provider's error text. user/info accepts Token and every unexpired
// access token the token endpoint issued.
//
// As TikTok documents, every refresh answers a new refresh token and the
// one used stops working. TikTok documents its token endpoint's error
// body ({"error", "error_description", "log_id"}) but not the status it
// comes with; the double answers it with 200, the case a client only
// catches by reading the body.
type TikTok struct {
	Server
	TokenEndpoint
	Token string

	mu                      sync.Mutex
	clientKey, clientSecret string
}

// NewTikTok starts the double; it stops when the test ends.
func NewTikTok(t TB, token string) *TikTok {
	t.Helper()
	d := &TikTok{Token: token}
	d.initTokens("act.double", "", RevokeUsedRefreshToken, 7200)
	d.start(t, d.serve, map[string]string{"tiktok.api_base": ""})
	return d
}

// SetClient makes the token endpoint accept refresh grants of the app
// clientKey/clientSecret with refreshToken (and, after that, with the
// refresh token each grant answers).
func (d *TikTok) SetClient(clientKey, clientSecret, refreshToken string) {
	d.mu.Lock()
	d.clientKey, d.clientSecret = clientKey, clientSecret
	d.mu.Unlock()
	d.setRefreshToken(refreshToken)
}

func (d *TikTok) client() (key, secret string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.clientKey, d.clientSecret
}

func tiktokError(code, message string) map[string]any {
	return map[string]any{"data": map[string]any{}, "error": map[string]any{"code": code, "message": message, "log_id": "202611241200000A1B2C3D4E5F"}}
}

func (d *TikTok) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/v2/oauth/token/" {
		d.token(w, r)
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != "/v2/user/info/" {
		writeJSON(w, http.StatusNotFound, tiktokError("invalid_params", "The requested path does not exist."))
		return
	}
	if auth := r.Header.Get("Authorization"); auth != "Bearer "+d.Token && !d.acceptsBearer(auth) {
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

// token answers a refresh-token grant as TikTok's /v2/oauth/token/ does.
func (d *TikTok) token(w http.ResponseWriter, r *http.Request) {
	d.TokenExchanges.Add(1)
	refuse := func(code, description string) {
		writeJSON(w, http.StatusOK, map[string]any{"error": code, "error_description": description, "log_id": "202611241200000A1B2C3D4E5F"})
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") == "" {
		refuse("invalid_request", "The request parameters are malformed.")
		return
	}
	f := r.PostForm
	key, secret := d.client()
	if key == "" || f.Get("client_key") != key || f.Get("client_secret") != secret {
		refuse("invalid_client", "Client key or secret is incorrect.")
		return
	}
	if f.Get("grant_type") != "refresh_token" {
		refuse("unsupported_grant_type", "The grant type is not supported.")
		return
	}
	rotated, ok := d.redeem(f.Get("refresh_token"))
	if !ok {
		refuse("invalid_grant", "Refresh token is invalid or expired.")
		return
	}
	writeJSON(w, http.StatusOK, d.tokenAnswer("Bearer", rotated, map[string]any{"open_id": TikTokOpenID,
		"scope": "user.info.basic,video.list", "refresh_expires_in": 15552000}))
}
