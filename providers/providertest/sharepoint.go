package providertest

import (
	"net/http"
	"strings"
)

// SharePoint is a double of the Microsoft identity platform token endpoint
// (/{tenant}/oauth2/v2.0/token, client credentials and refresh token
// grants) and of Microsoft Graph's sites and drives. Site and drive ids
// containing "missing" do not exist; ids containing "denied" answer 403.
// Refusals carry Microsoft's real AADSTS error bodies and Graph's error
// envelope. Each grant issues a distinct access token that Graph accepts
// for an hour; TokenExchanges counts the token requests. Like Microsoft,
// a refresh grant answers a new refresh token and the earlier ones keep
// working (SetRotation changes that).
type SharePoint struct {
	Server
	TokenEndpoint
	TenantID, ClientID, ClientSecret string
}

// NewSharePoint starts the double.
func NewSharePoint(t TB, tenantID, clientID, clientSecret, refreshToken string) *SharePoint {
	t.Helper()
	d := &SharePoint{TenantID: tenantID, ClientID: clientID, ClientSecret: clientSecret}
	d.initTokens("eyJ0eXAi.graph-double", refreshToken, RotateRefreshToken, 3599)
	d.start(t, d.serve, map[string]string{"sharepoint.login_base": "", "sharepoint.graph_base": ""})
	return d
}

func (d *SharePoint) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/"+d.TenantID+"/oauth2/v2.0/token" && r.Method == http.MethodPost:
		d.token(w, r)
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		d.TokenExchanges.Add(1)
		writeJSON(w, 400, aadError("invalid_request", "AADSTS90002: Tenant not found.", 90002))
	case strings.HasPrefix(r.URL.Path, "/v1.0/") && r.Method == http.MethodGet:
		d.graph(w, r)
	default:
		writeJSON(w, 404, msGraphError("BadRequest", "Resource not found for the segment."))
	}
}

func (d *SharePoint) token(w http.ResponseWriter, r *http.Request) {
	d.TokenExchanges.Add(1)
	var rotated string
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, aadError("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.", 900144))
		return
	}
	f := r.PostForm
	if f.Get("client_id") != d.ClientID {
		writeJSON(w, 400, aadError("unauthorized_client", "AADSTS700016: Application was not found in the directory.", 700016))
		return
	}
	if f.Get("client_secret") != d.ClientSecret {
		writeJSON(w, 401, aadError("invalid_client", "AADSTS7000215: Invalid client secret provided.", 7000215))
		return
	}
	scopes := strings.Fields(f.Get("scope"))
	switch f.Get("grant_type") {
	case "client_credentials":
		// The client credentials grant only takes "<resource>/.default".
		if len(scopes) != 1 || scopes[0] != "https://graph.microsoft.com/.default" {
			writeJSON(w, 400, aadError("invalid_scope", "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.", 1002012))
			return
		}
	case "refresh_token":
		if len(scopes) == 0 || !strings.HasPrefix(scopes[0], "https://graph.microsoft.com/") {
			writeJSON(w, 400, aadError("invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid.", 70011))
			return
		}
		// Spent last: a grant refused for another reason keeps its token.
		var ok bool
		if rotated, ok = d.redeem(f.Get("refresh_token")); !ok {
			writeJSON(w, 400, aadError("invalid_grant", "AADSTS70000: Provided grant is invalid or malformed.", 70000))
			return
		}
	default:
		writeJSON(w, 400, aadError("unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.", 70003))
		return
	}
	writeJSON(w, 200, d.tokenAnswer("Bearer", rotated, map[string]any{"ext_expires_in": 3599, "scope": "https://graph.microsoft.com/.default"}))
}

func (d *SharePoint) graph(w http.ResponseWriter, r *http.Request) {
	if !d.acceptsBearer(r.Header.Get("Authorization")) {
		writeJSON(w, 401, msGraphError("InvalidAuthenticationToken", "Access token validation failure. Invalid audience."))
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/v1.0/")
	var id string
	switch {
	case rest == "sites/root":
	case strings.HasPrefix(rest, "sites/"):
		id = strings.TrimPrefix(rest, "sites/")
	case strings.HasPrefix(rest, "drives/") && !strings.Contains(strings.TrimPrefix(rest, "drives/"), "/"):
		id = strings.TrimPrefix(rest, "drives/")
	default:
		writeJSON(w, 400, msGraphError("BadRequest", "Resource not found for the segment."))
		return
	}
	switch {
	case strings.Contains(id, "missing"):
		writeJSON(w, 404, msGraphError("itemNotFound", "Requested site could not be found"))
	case strings.Contains(id, "denied"):
		writeJSON(w, 403, msGraphError("accessDenied", "Access denied"))
	default:
		writeJSON(w, 200, map[string]any{"id": "contoso.sharepoint.com,1,2"})
	}
}

// aadError is the Microsoft identity platform's OAuth error body.
func aadError(code, description string, aadsts int) map[string]any {
	return map[string]any{"error": code, "error_description": description, "error_codes": []int{aadsts},
		"trace_id": "00000000-0000-0000-0000-000000000000", "correlation_id": "00000000-0000-0000-0000-000000000000"}
}

// msGraphError is Microsoft Graph's error envelope.
func msGraphError(code, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]any{"request-id": "00000000-0000-0000-0000-000000000000"}}}
}
