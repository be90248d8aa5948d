package providertest

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Box is a double of Box's token endpoint (refresh token, client
// credentials grant for the enterprise or an added user, JWT assertion)
// and of GET /2.0/folders/{id} and /2.0/folders/{id}/items. Its folders
// are SampleTree's: "0" (All Files) is the root and "12345" is /Reports
// (BoxID names the others). Items come folders first, then files, each by
// name, limit at a time (1 to 1000, 100 by default) from offset, with
// total_count, and only the fields asked for beside type, id and etag.
// Refusals use Box's real status codes and OAuth error bodies. Each grant
// issues a distinct access token that the folder API accepts for an hour;
// TokenExchanges counts the token requests.
//
// Like Box, every refresh grant answers a new refresh token. Box also
// revokes the one used at once; the double does so only after
// SetRotation(RevokeUsedRefreshToken), because a connectivity check
// spends the refresh token without being able to store the new one, and
// tests that check the same connection twice would otherwise fail.
type Box struct {
	Server
	TokenEndpoint
	ClientID, ClientSecret string
	EnterpriseID           string
	PublicKeyID            string
	Key                    KeyPair

	mu    sync.Mutex
	users map[string]bool
	tree  *treeIndex
}

// BoxID is the id of the item at path in the double's tree, "" when there
// is none.
func (d *Box) BoxID(path string) string {
	if n := d.tree.at(path); n != nil {
		return n.ID
	}
	return ""
}

// NewBox starts the double.
func NewBox(t TB, clientID, clientSecret, refreshToken, enterpriseID, publicKeyID string, key KeyPair) *Box {
	t.Helper()
	d := &Box{ClientID: clientID, ClientSecret: clientSecret, EnterpriseID: enterpriseID,
		PublicKeyID: publicKeyID, Key: key, users: map[string]bool{}, tree: indexTree(SampleTree(), "0", "8800")}
	reports := d.tree.at("/Reports")
	delete(d.tree.byID, reports.ID)
	reports.ID = "12345"
	d.tree.byID[reports.ID] = reports
	d.initTokens("box-double", refreshToken, RotateRefreshToken, 3600)
	d.start(t, d.serve, map[string]string{"box.api_base": ""})
	return d
}

// AddUser makes id a user the app may act as through the client
// credentials grant (box_subject_type=user).
func (d *Box) AddUser(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[id] = true
}

func (d *Box) isUser(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.users[id]
}

func (d *Box) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/oauth2/token" && r.Method == http.MethodPost:
		d.token(w, r)
	case strings.HasPrefix(r.URL.Path, "/2.0/folders/") && strings.HasSuffix(r.URL.Path, "/items") && r.Method == http.MethodGet:
		d.items(w, r)
	case strings.HasPrefix(r.URL.Path, "/2.0/folders/") && r.Method == http.MethodGet:
		d.folder(w, r)
	default:
		writeJSON(w, 404, boxError(404, "not_found", "Not Found"))
	}
}

func (d *Box) token(w http.ResponseWriter, r *http.Request) {
	d.TokenExchanges.Add(1)
	var rotated string
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "Invalid grant_type parameter or parameter missing"})
		return
	}
	f := r.PostForm
	if f.Get("client_id") != d.ClientID || f.Get("client_secret") != d.ClientSecret {
		writeJSON(w, 400, map[string]any{"error": "invalid_client", "error_description": "The client credentials are invalid"})
		return
	}
	switch f.Get("grant_type") {
	case "refresh_token":
		var ok bool
		if rotated, ok = d.redeem(f.Get("refresh_token")); !ok {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Invalid refresh token"})
			return
		}
	case "client_credentials":
		typ, id := f.Get("box_subject_type"), f.Get("box_subject_id")
		if !(typ == "enterprise" && id == d.EnterpriseID) && !(typ == "user" && d.isUser(id)) {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Grant credentials are invalid"})
			return
		}
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		header, claims, err := verifyRS256(f.Get("assertion"), &d.Key.Key.PublicKey)
		if err != nil || header["kid"] != d.PublicKeyID {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Signature verification error. The public key identified by \"kid\" must correspond to the private key used for signing."})
			return
		}
		// Box refuses an assertion valid for more than 60 seconds.
		if exp, _ := claims["exp"].(float64); time.Unix(int64(exp), 0).After(time.Now().Add(60 * time.Second)) {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Please check the 'exp' claim."})
			return
		}
		if claims["iss"] != d.ClientID || claims["aud"] != d.URL+"/oauth2/token" || claims["jti"] == nil {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Please check the 'iss', 'aud' and 'jti' claims."})
			return
		}
		if claims["box_sub_type"] != "enterprise" || claims["sub"] != d.EnterpriseID {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Please check the 'sub' claim."})
			return
		}
	default:
		writeJSON(w, 400, map[string]any{"error": "unsupported_grant_type", "error_description": "Grant type is not supported"})
		return
	}
	writeJSON(w, 200, d.tokenAnswer("bearer", rotated, map[string]any{"restricted_to": []any{}}))
}

func (d *Box) folder(w http.ResponseWriter, r *http.Request) {
	if !d.acceptsBearer(r.Header.Get("Authorization")) {
		// Box answers a bad token with an empty 401 and WWW-Authenticate.
		w.Header().Set("WWW-Authenticate", `Bearer realm="Service", error="invalid_token", error_description="The access token provided is invalid."`)
		w.WriteHeader(401)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/2.0/folders/")
	n := d.tree.byID[id]
	if n == nil || !n.Folder {
		writeJSON(w, 404, boxError(404, "not_found", "Not Found"))
		return
	}
	name := n.Name
	if n == d.tree.root {
		name = "All Files"
	}
	writeJSON(w, 200, map[string]any{"type": "folder", "id": id, "name": name, "etag": "1"})
}

// items answers GET /2.0/folders/{id}/items.
func (d *Box) items(w http.ResponseWriter, r *http.Request) {
	if !d.acceptsBearer(r.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="Service", error="invalid_token", error_description="The access token provided is invalid."`)
		w.WriteHeader(401)
		return
	}
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/2.0/folders/"), "/items")
	n := d.tree.byID[id]
	if n == nil || !n.Folder {
		writeJSON(w, 404, boxError(404, "not_found", "Not Found"))
		return
	}
	q := r.URL.Query()
	limit, offset := 100, 0
	if l := q.Get("limit"); l != "" {
		v, err := strconv.Atoi(l)
		if err != nil || v < 1 || v > 1000 {
			writeJSON(w, 400, boxError(400, "bad_request", "Invalid value '"+l+"' for query parameter 'limit'."))
			return
		}
		limit = v
	}
	if o := q.Get("offset"); o != "" {
		v, err := strconv.Atoi(o)
		if err != nil || v < 0 {
			writeJSON(w, 400, boxError(400, "bad_request", "Invalid value '"+o+"' for query parameter 'offset'."))
			return
		}
		offset = v
	}
	fields := map[string]bool{"name": true} // Box's mini representation
	if f := q.Get("fields"); f != "" {
		fields = map[string]bool{}
		for _, name := range strings.Split(f, ",") {
			fields[strings.TrimSpace(name)] = true
		}
	}
	var kids []*node
	for _, folders := range []bool{true, false} {
		for _, c := range d.tree.children(n) {
			if c.Folder == folders {
				kids = append(kids, c)
			}
		}
	}
	entries := []map[string]any{}
	for i := offset; i < len(kids) && i < offset+limit; i++ {
		c := kids[i]
		e := map[string]any{"type": "file", "id": c.ID, "etag": "0"}
		if c.Folder {
			e["type"] = "folder"
		}
		if fields["name"] {
			e["name"] = c.Name
		}
		if fields["size"] {
			e["size"] = c.Size
		}
		if fields["modified_at"] {
			e["modified_at"] = c.Modified.Format(time.RFC3339)
		}
		entries = append(entries, e)
	}
	writeJSON(w, 200, map[string]any{"total_count": len(kids), "entries": entries, "offset": offset, "limit": limit,
		"order": []map[string]any{{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}}})
}

// boxError is the error body of Box's API (not of its token endpoint).
func boxError(status int, code, msg string) map[string]any {
	return map[string]any{"type": "error", "status": status, "code": code, "message": msg, "request_id": "abcdef123456"}
}
