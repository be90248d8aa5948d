package providertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
)

// SharePoint is a double of the Microsoft identity platform token endpoint
// (/{tenant}/oauth2/v2.0/token) and Microsoft Graph sites and drives.
type SharePoint struct {
	URL                                            string
	TenantID, ClientID, ClientSecret, RefreshToken string
	Requests                                       atomic.Int64
}

const graphAccessToken = "eyJ0eXAi.graph-double-token"

// NewSharePoint starts the double.
func NewSharePoint(t TB, tenantID, clientID, clientSecret, refreshToken string) *SharePoint {
	t.Helper()
	d := &SharePoint{TenantID: tenantID, ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

// Endpoints points the sharepoint provider at the double.
func (d *SharePoint) Endpoints() map[string]string {
	return map[string]string{"sharepoint.login_base": d.URL, "sharepoint.graph_base": d.URL}
}

func (d *SharePoint) serve(w http.ResponseWriter, r *http.Request) {
	d.Requests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/"+d.TenantID+"/oauth2/v2.0/token":
		_ = r.ParseForm()
		f := r.PostForm
		if f.Get("client_id") != d.ClientID || f.Get("client_secret") != d.ClientSecret {
			writeJSON(w, 401, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.", "error_codes": []int{7000215}})
			return
		}
		if f.Get("grant_type") == "refresh_token" && f.Get("refresh_token") != d.RefreshToken {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "AADSTS70000: The refresh token is invalid."})
			return
		}
		writeJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "access_token": graphAccessToken})
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		writeJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."})
	case strings.HasPrefix(r.URL.Path, "/v1.0/"):
		if r.Header.Get("Authorization") != "Bearer "+graphAccessToken {
			writeJSON(w, 401, map[string]any{"error": map[string]any{"code": "InvalidAuthenticationToken", "message": "Access token is empty."}})
			return
		}
		if strings.Contains(r.URL.Path, "missing") {
			writeJSON(w, 404, map[string]any{"error": map[string]any{"code": "itemNotFound", "message": "Requested site could not be found"}})
			return
		}
		writeJSON(w, 200, map[string]any{"id": "contoso.sharepoint.com,1,2", "name": "site"})
	default:
		http.NotFound(w, r)
	}
}
