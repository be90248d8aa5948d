package providertest

import (
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Google is a double of Google's OAuth token endpoint and Drive v3
// files.list. It accepts a service account's JWT assertion signed by Key
// (iss=ClientEmail, aud=its token URL, a Drive scope, at most one hour of
// life, the kid set by RequireKeyID, sub only for users allowed by
// AllowImpersonation), or a refresh-token grant of ClientID, ClientSecret
// and the refresh token it was started with (which, as at Google, is not
// rotated unless SetRotation says so). Each grant issues a distinct access
// token that files.list accepts for an hour; TokenExchanges counts the
// token requests. Drive ids and folder ids containing "missing" do not
// exist. Refusals use Google's real status codes and error bodies.
type Google struct {
	Server
	TokenEndpoint
	Key                    KeyPair
	ClientEmail            string
	ClientID, ClientSecret string

	mu           sync.Mutex
	impersonable map[string]bool
	keyID        string
}

// NewGoogle starts the double.
func NewGoogle(t TB, key KeyPair, clientEmail, clientID, clientSecret, refreshToken string) *Google {
	t.Helper()
	d := &Google{Key: key, ClientEmail: clientEmail, ClientID: clientID, ClientSecret: clientSecret, impersonable: map[string]bool{}}
	d.initTokens("ya29.double", refreshToken, KeepRefreshToken, 3599)
	d.start(t, d.serve, map[string]string{"google_drive.token_url": "/token", "google_drive.api_base": ""})
	return d
}

// AllowImpersonation grants the service account domain-wide delegation for
// users, so an assertion with sub set to one of them is accepted.
func (d *Google) AllowImpersonation(users ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, u := range users {
		d.impersonable[u] = true
	}
}

// RequireKeyID makes the double insist that assertions name kid (the
// key's private_key_id), as Google does once a key id is known.
func (d *Google) RequireKeyID(kid string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keyID = kid
}

func (d *Google) canImpersonate(user string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.impersonable[user]
}

func (d *Google) requiredKeyID() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.keyID
}

// driveParentQuery is the only Drive query the double understands.
var driveParentQuery = regexp.MustCompile(`^'((?:[^'\\]|\\.)+)' in parents$`)

func (d *Google) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/token" && r.Method == http.MethodPost:
		d.token(w, r)
	case r.URL.Path == "/drive/v3/files" && r.Method == http.MethodGet:
		d.files(w, r)
	default:
		writeJSON(w, http.StatusNotFound, googleError(404, "Not Found", "NOT_FOUND"))
	}
}

func (d *Google) token(w http.ResponseWriter, r *http.Request) {
	d.TokenExchanges.Add(1)
	var rotated string
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]any{"error": "invalid_request"})
		return
	}
	f := r.PostForm
	switch f.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		header, claims, err := verifyRS256(f.Get("assertion"), &d.Key.Key.PublicKey)
		if kid := d.requiredKeyID(); err != nil || (kid != "" && header["kid"] != kid) {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
			return
		}
		if claims["iss"] != d.ClientEmail {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Invalid grant: account not found"})
			return
		}
		if claims["aud"] != d.URL+"/token" || lifetime(claims) > time.Hour {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."})
			return
		}
		scope, _ := claims["scope"].(string)
		if !strings.Contains(scope, "https://www.googleapis.com/auth/drive") {
			writeJSON(w, 400, map[string]any{"error": "invalid_scope", "error_description": "Invalid OAuth scope or ID token audience provided."})
			return
		}
		if sub, ok := claims["sub"].(string); ok && !d.canImpersonate(sub) {
			writeJSON(w, 401, map[string]any{"error": "unauthorized_client",
				"error_description": "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."})
			return
		}
	case "refresh_token":
		if f.Get("client_id") != d.ClientID || f.Get("client_secret") != d.ClientSecret {
			writeJSON(w, 401, map[string]any{"error": "invalid_client", "error_description": "Unauthorized"})
			return
		}
		var ok bool
		if rotated, ok = d.redeem(f.Get("refresh_token")); !ok {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
			return
		}
	default:
		writeJSON(w, 400, map[string]any{"error": "unsupported_grant_type", "error_description": "Invalid grant_type: " + f.Get("grant_type")})
		return
	}
	writeJSON(w, 200, d.tokenAnswer("Bearer", rotated, map[string]any{"scope": "https://www.googleapis.com/auth/drive.readonly"}))
}

func (d *Google) files(w http.ResponseWriter, r *http.Request) {
	if !d.acceptsBearer(r.Header.Get("Authorization")) {
		writeJSON(w, 401, googleError(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", "UNAUTHENTICATED"))
		return
	}
	q := r.URL.Query()
	if ps := q.Get("pageSize"); ps != "" && (len(ps) > 4 || ps == "0") {
		writeJSON(w, 400, googleError(400, "Invalid value for pageSize.", "INVALID_ARGUMENT"))
		return
	}
	// Drive's own rules for shared drives: driveId needs corpora=drive and
	// both all-drives flags, and corpora=drive needs a driveId.
	if driveID := q.Get("driveId"); driveID != "" || q.Get("corpora") == "drive" {
		if driveID == "" || q.Get("corpora") != "drive" || q.Get("includeItemsFromAllDrives") != "true" || q.Get("supportsAllDrives") != "true" {
			writeJSON(w, 403, googleError(403, "The includeItemsFromAllDrives parameter must be set to true when driveId is set.", "PERMISSION_DENIED"))
			return
		}
		if strings.Contains(driveID, "missing") {
			writeJSON(w, 404, googleError(404, "Shared drive not found: "+driveID, "NOT_FOUND"))
			return
		}
	}
	if query := q.Get("q"); query != "" {
		m := driveParentQuery.FindStringSubmatch(query)
		if m == nil {
			writeJSON(w, 400, googleError(400, "Invalid Value", "INVALID_ARGUMENT"))
			return
		}
		if strings.Contains(m[1], "missing") {
			writeJSON(w, 404, googleError(404, "File not found: .", "NOT_FOUND"))
			return
		}
	}
	writeJSON(w, 200, map[string]any{"files": []map[string]any{{"id": "1AbC"}}})
}

// googleError is the error body of Google's JSON APIs.
func googleError(code int, msg, status string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}}
}
