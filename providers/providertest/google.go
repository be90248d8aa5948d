package providertest

import (
	"net/http"
	"regexp"
	"strconv"
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
//
// files.list serves SampleTree twice: as My Drive (its root is the
// "root" alias) and as the shared drive SharedDriveID, whose items are
// listed only with includeItemsFromAllDrives and supportsAllDrives, as
// at Google. It understands the query clauses '<id>' in parents, name =,
// mimeType = and !=, and trashed =, joined by "and"; pages by pageSize
// (1 to 1000, 100 by default) and an opaque pageToken bound to its query;
// and answers only the fields asked for (fields=nextPageToken,files(...)).
// Folders it does not know (and every listing without a parent clause)
// answer one file, 1AbC, as a drive that holds something.
type Google struct {
	Server
	TokenEndpoint
	Key                    KeyPair
	ClientEmail            string
	ClientID, ClientSecret string

	mu           sync.Mutex
	impersonable map[string]bool
	keyID        string

	myDrive, sharedDrive *treeIndex
}

// SharedDriveID is the shared drive the Google double serves SampleTree
// in (beside My Drive).
const SharedDriveID = "0AH-drive"

// driveFolderType is the MIME type of Drive folders.
const driveFolderType = "application/vnd.google-apps.folder"

// NewGoogle starts the double.
func NewGoogle(t TB, key KeyPair, clientEmail, clientID, clientSecret, refreshToken string) *Google {
	t.Helper()
	d := &Google{Key: key, ClientEmail: clientEmail, ClientID: clientID, ClientSecret: clientSecret, impersonable: map[string]bool{},
		myDrive: indexTree(SampleTree(), "0AMyDriveRootFolder", "1md"), sharedDrive: indexTree(SampleTree(), SharedDriveID, "1sd")}
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

// DriveID is the id the double gives the item at path in My Drive (or,
// with shared, in the shared drive), "" when there is none.
func (d *Google) DriveID(path string, shared bool) string {
	ix := d.myDrive
	if shared {
		ix = d.sharedDrive
	}
	if n := ix.at(path); n != nil {
		return n.ID
	}
	return ""
}

// driveClause matches one clause of the Drive queries the double
// understands, at the start of what is left of the query.
var driveClause = regexp.MustCompile(`^(?:'((?:[^'\\]|\\.)+)' in parents|trashed\s*=\s*(true|false)|mimeType\s*(=|!=)\s*'((?:[^'\\]|\\.)*)'|name\s*=\s*'((?:[^'\\]|\\.)*)')`)

// driveAnd joins clauses.
var driveAnd = regexp.MustCompile(`^\s+and\s+`)

// driveQuery is a parsed Drive query.
type driveQuery struct {
	parent           string
	hasParent        bool
	name, mime       *string
	mimeNot, trashed bool
}

// parseDriveQuery parses q, or reports that the double does not
// understand it (which Drive would answer 400 Invalid Value).
func parseDriveQuery(q string) (driveQuery, bool) {
	var dq driveQuery
	unquote := func(s string) string { return strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(s) }
	for first := true; q != ""; first = false {
		if !first {
			sep := driveAnd.FindString(q)
			if sep == "" {
				return dq, false
			}
			q = q[len(sep):]
		}
		m := driveClause.FindStringSubmatch(q)
		if m == nil {
			return dq, false
		}
		q = q[len(m[0]):]
		switch {
		case m[1] != "":
			dq.parent, dq.hasParent = unquote(m[1]), true
		case m[2] != "":
			dq.trashed = m[2] == "true"
		case m[3] != "":
			v := unquote(m[4])
			dq.mime, dq.mimeNot = &v, m[3] == "!="
		default:
			v := unquote(m[5])
			dq.name = &v
		}
	}
	return dq, true
}

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
	pageSize := 100
	if ps := q.Get("pageSize"); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 1000 {
			writeJSON(w, 400, googleError(400, "Invalid value for pageSize.", "INVALID_ARGUMENT"))
			return
		}
		pageSize = n
	}
	dq, ok := parseDriveQuery(q.Get("q"))
	if !ok {
		writeJSON(w, 400, googleError(400, "Invalid Value", "INVALID_ARGUMENT"))
		return
	}
	if strings.Contains(dq.parent, "missing") {
		writeJSON(w, 404, googleError(404, "File not found: .", "NOT_FOUND"))
		return
	}
	parent := d.driveFolder(dq.parent)
	if !dq.hasParent || parent == nil {
		writeJSON(w, 200, map[string]any{"files": []map[string]any{{"id": "1AbC"}}})
		return
	}
	// Items of a shared drive are only listed for a client that says it
	// supports them and asks for them.
	var children []*node
	if d.sharedDrive.byID[parent.ID] != parent || (q.Get("includeItemsFromAllDrives") == "true" && q.Get("supportsAllDrives") == "true") {
		ix := d.myDrive
		if d.sharedDrive.byID[parent.ID] == parent {
			ix = d.sharedDrive
		}
		for _, c := range ix.children(parent) {
			mime := c.MimeType
			if c.Folder {
				mime = driveFolderType
			}
			if (dq.name != nil && c.Name != *dq.name) || (dq.mime != nil && (mime == *dq.mime) == dq.mimeNot) || dq.trashed {
				continue
			}
			children = append(children, c)
		}
	}
	listing := q.Get("q") + "|" + q.Get("driveId")
	offset, ok := readPageToken(q.Get("pageToken"), listing)
	if !ok {
		writeJSON(w, 400, googleError(400, "Invalid Value", "INVALID_ARGUMENT"))
		return
	}
	ans := map[string]any{"kind": "drive#fileList", "incompleteSearch": false}
	files := []map[string]any{}
	for i := offset; i < len(children) && i < offset+pageSize; i++ {
		c := children[i]
		f := map[string]any{"kind": "drive#file", "id": c.ID, "name": c.Name, "mimeType": c.MimeType,
			"modifiedTime": c.Modified.Format("2006-01-02T15:04:05.000Z")}
		if c.Folder {
			f["mimeType"] = driveFolderType
		} else {
			f["size"] = strconv.FormatInt(c.Size, 10) // int64 fields are JSON strings at Google
		}
		files = append(files, f)
	}
	ans["files"] = files
	if offset+pageSize < len(children) {
		ans["nextPageToken"] = pageToken(listing, offset+pageSize)
	}
	writeJSON(w, 200, driveFields(ans, q.Get("fields")))
}

// driveFolder is the folder a parent clause names, nil when the double
// does not know it.
func (d *Google) driveFolder(id string) *node {
	if id == "root" {
		return d.myDrive.root
	}
	for _, ix := range []*treeIndex{d.myDrive, d.sharedDrive} {
		if n := ix.byID[id]; n != nil && n.Folder {
			return n
		}
	}
	return nil
}

// driveFields keeps of a files.list answer only what fields asks for
// ("nextPageToken,files(id,name)"), as Drive does; all of it without.
func driveFields(ans map[string]any, fields string) map[string]any {
	if fields == "" || fields == "*" {
		return ans
	}
	out := map[string]any{}
	for _, f := range splitFields(fields) {
		name, sub, nested := strings.Cut(strings.TrimSuffix(f, ")"), "(")
		v, ok := ans[name]
		if !ok {
			continue
		}
		if files, isList := v.([]map[string]any); isList && nested {
			keep := splitFields(sub)
			var kept []map[string]any
			for _, file := range files {
				k := map[string]any{}
				for _, key := range keep {
					if fv, ok := file[key]; ok {
						k[key] = fv
					}
				}
				kept = append(kept, k)
			}
			v = kept
		}
		out[name] = v
	}
	return out
}

// splitFields splits a fields list at the commas outside parentheses.
func splitFields(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// googleError is the error body of Google's JSON APIs.
func googleError(code int, msg, status string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}}
}
