package providertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
)

// Google is a double of Google's OAuth token endpoint and Drive v3
// files.list. It accepts a service account's JWT assertion signed by Key
// with iss=ClientEmail and aud=its token URL, or a refresh-token grant of
// ClientID/ClientSecret/RefreshToken.
type Google struct {
	URL                                  string
	Key                                  KeyPair
	ClientEmail                          string
	ClientID, ClientSecret, RefreshToken string
	Requests                             atomic.Int64
}

const googleAccessToken = "ya29.double-access-token"

// NewGoogle starts the double.
func NewGoogle(t TB, key KeyPair, clientEmail, clientID, clientSecret, refreshToken string) *Google {
	t.Helper()
	d := &Google{Key: key, ClientEmail: clientEmail, ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

// Endpoints points the google_drive provider at the double.
func (d *Google) Endpoints() map[string]string {
	return map[string]string{"google_drive.token_url": d.URL + "/token", "google_drive.api_base": d.URL}
}

func (d *Google) serve(w http.ResponseWriter, r *http.Request) {
	d.Requests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/token":
		_ = r.ParseForm()
		switch r.PostForm.Get("grant_type") {
		case "urn:ietf:params:oauth:grant-type:jwt-bearer":
			_, claims, err := verifyRS256(r.PostForm.Get("assertion"), &d.Key.Key.PublicKey)
			if err != nil || claims["iss"] != d.ClientEmail || claims["aud"] != d.URL+"/token" {
				writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
				return
			}
		case "refresh_token":
			if r.PostForm.Get("client_id") != d.ClientID || r.PostForm.Get("client_secret") != d.ClientSecret {
				writeJSON(w, 401, map[string]any{"error": "invalid_client", "error_description": "Unauthorized"})
				return
			}
			if r.PostForm.Get("refresh_token") != d.RefreshToken {
				writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
				return
			}
		default:
			writeJSON(w, 400, map[string]any{"error": "unsupported_grant_type"})
			return
		}
		writeJSON(w, 200, map[string]any{"access_token": googleAccessToken, "expires_in": 3599, "token_type": "Bearer"})
	case "/drive/v3/files":
		if r.Header.Get("Authorization") != "Bearer "+googleAccessToken {
			writeJSON(w, 401, map[string]any{"error": map[string]any{"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}})
			return
		}
		if q := r.URL.Query(); q.Get("driveId") == "missing-drive" || strings.Contains(q.Get("q"), "missing-folder") {
			writeJSON(w, 404, map[string]any{"error": map[string]any{"code": 404, "message": "Shared drive not found", "status": "NOT_FOUND"}})
			return
		}
		writeJSON(w, 200, map[string]any{"files": []map[string]any{{"id": "1AbC", "name": "report.pdf"}}})
	default:
		http.NotFound(w, r)
	}
}
