package providertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
)

// Box is a double of Box's token endpoint (refresh token, client
// credentials grant, JWT assertion) and GET /2.0/folders/{id}.
type Box struct {
	URL                                  string
	ClientID, ClientSecret, RefreshToken string
	EnterpriseID                         string
	PublicKeyID                          string
	Key                                  KeyPair
	Requests                             atomic.Int64
}

const boxAccessToken = "box-double-access-token"

// NewBox starts the double.
func NewBox(t TB, clientID, clientSecret, refreshToken, enterpriseID, publicKeyID string, key KeyPair) *Box {
	t.Helper()
	d := &Box{ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken, EnterpriseID: enterpriseID, PublicKeyID: publicKeyID, Key: key}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

// Endpoints points the box provider at the double.
func (d *Box) Endpoints() map[string]string { return map[string]string{"box.api_base": d.URL} }

func (d *Box) serve(w http.ResponseWriter, r *http.Request) {
	d.Requests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/oauth2/token":
		_ = r.ParseForm()
		f := r.PostForm
		if f.Get("client_id") != d.ClientID || f.Get("client_secret") != d.ClientSecret {
			writeJSON(w, 400, map[string]any{"error": "invalid_client", "error_description": "The client credentials are invalid"})
			return
		}
		switch f.Get("grant_type") {
		case "refresh_token":
			if f.Get("refresh_token") != d.RefreshToken {
				writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Invalid refresh token"})
				return
			}
		case "client_credentials":
			if f.Get("box_subject_type") != "enterprise" || f.Get("box_subject_id") != d.EnterpriseID {
				writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Grant credentials are invalid"})
				return
			}
		case "urn:ietf:params:oauth:grant-type:jwt-bearer":
			header, claims, err := verifyRS256(f.Get("assertion"), &d.Key.Key.PublicKey)
			if err != nil || header["kid"] != d.PublicKeyID || claims["iss"] != d.ClientID || claims["sub"] != d.EnterpriseID ||
				claims["aud"] != d.URL+"/oauth2/token" || claims["jti"] == nil {
				writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Signature verification error"})
				return
			}
		default:
			writeJSON(w, 400, map[string]any{"error": "unsupported_grant_type"})
			return
		}
		writeJSON(w, 200, map[string]any{"access_token": boxAccessToken, "expires_in": 3600, "token_type": "bearer"})
	case strings.HasPrefix(r.URL.Path, "/2.0/folders/"):
		if r.Header.Get("Authorization") != "Bearer "+boxAccessToken {
			w.WriteHeader(401)
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/2.0/folders/")
		if id != "0" && id != "12345" {
			writeJSON(w, 404, map[string]any{"type": "error", "status": 404, "code": "not_found", "message": "Not Found"})
			return
		}
		writeJSON(w, 200, map[string]any{"type": "folder", "id": id, "name": "All Files"})
	default:
		http.NotFound(w, r)
	}
}
