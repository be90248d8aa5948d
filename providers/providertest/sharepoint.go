package providertest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
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
//
// Every drive (/drives/{id}, /sites/{site}/drive, /sites/root/drive)
// holds SampleTree: GET .../root/children and .../root:/{path}:/children
// answer driveItems (folder or file facet, size, lastModifiedDateTime)
// $top at a time (1 to 1000, 200 by default), with an @odata.nextLink
// carrying an opaque $skiptoken bound to its folder. A path that does
// not exist is itemNotFound; the children of a file are none.
type SharePoint struct {
	Server
	TokenEndpoint
	TenantID, ClientID, ClientSecret string

	tree     *treeIndex
	nextBase atomic.Pointer[string]
}

// SetNextLinkBase makes @odata.nextLink point at base instead of the
// double, as a hostile or misconfigured Graph could: a client must not
// follow it anywhere but to its configured Graph.
func (d *SharePoint) SetNextLinkBase(base string) { d.nextBase.Store(&base) }

// GraphID is the id of the driveItem at path, "" when there is none.
func (d *SharePoint) GraphID(path string) string {
	if n := d.tree.at(path); n != nil {
		return n.ID
	}
	return ""
}

// NewSharePoint starts the double.
func NewSharePoint(t TB, tenantID, clientID, clientSecret, refreshToken string) *SharePoint {
	t.Helper()
	d := &SharePoint{TenantID: tenantID, ClientID: clientID, ClientSecret: clientSecret, tree: indexTree(SampleTree(), "01SPROOT", "01SPITEM")}
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
	if drive, path, ok := driveChildren(strings.TrimPrefix(r.URL.EscapedPath(), "/v1.0/")); ok {
		d.children(w, r, drive, path)
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

// driveChildren reads a children request's drive (a drive id, or the
// site whose default drive it is) and folder path ("" for the root) from
// an escaped path under /v1.0/; ok is false for any other request.
func driveChildren(rest string) (drive, path string, ok bool) {
	var tail string
	switch {
	case strings.HasPrefix(rest, "drives/"):
		drive, tail, ok = strings.Cut(strings.TrimPrefix(rest, "drives/"), "/")
	case strings.HasPrefix(rest, "sites/"):
		i := strings.Index(rest, "/drive/root")
		if i < 0 {
			return "", "", false
		}
		drive, tail, ok = strings.TrimSuffix(rest[len("sites/"):i], ":"), rest[i+len("/drive/"):], true
	}
	if !ok {
		return "", "", false
	}
	if tail == "root/children" {
		return drive, "", true
	}
	inner, prefixed := strings.CutPrefix(tail, "root:/")
	inner, suffixed := strings.CutSuffix(inner, ":/children")
	if !prefixed || !suffixed || inner == "" {
		return "", "", false
	}
	p, err := url.PathUnescape(inner)
	if err != nil {
		return "", "", false
	}
	return drive, p, true
}

// children answers a driveItem children listing.
func (d *SharePoint) children(w http.ResponseWriter, r *http.Request, drive, path string) {
	switch {
	case strings.Contains(drive, "missing"):
		writeJSON(w, 404, msGraphError("itemNotFound", "The requested drive could not be found"))
		return
	case strings.Contains(drive, "denied"):
		writeJSON(w, 403, msGraphError("accessDenied", "Access denied"))
		return
	}
	q := r.URL.Query()
	top := 200
	if t := q.Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 1000 {
			writeJSON(w, 400, msGraphError("invalidRequest", "Invalid page size specified."))
			return
		}
		top = n
	}
	dir := d.tree.at("/" + path)
	if dir == nil {
		writeJSON(w, 404, msGraphError("itemNotFound", "The resource could not be found."))
		return
	}
	listing := drive + "|" + dir.ID
	offset, ok := readPageToken(q.Get("$skiptoken"), listing)
	if !ok {
		writeJSON(w, 400, msGraphError("invalidRequest", "Invalid skip token."))
		return
	}
	var kids []*node
	if dir.Folder {
		kids = d.tree.children(dir)
	}
	value := []map[string]any{}
	for i := offset; i < len(kids) && i < offset+top; i++ {
		c := kids[i]
		item := map[string]any{"id": c.ID, "name": c.Name, "lastModifiedDateTime": c.Modified.Format(time.RFC3339),
			"parentReference": map[string]any{"driveId": drive, "id": dir.ID, "path": "/drive/root:" + strings.TrimSuffix(dir.Path, "/")}}
		if c.Folder {
			item["folder"] = map[string]any{"childCount": len(c.Children)}
			item["size"] = 0
		} else {
			item["file"] = map[string]any{"mimeType": c.MimeType}
			item["size"] = c.Size
		}
		value = append(value, item)
	}
	ans := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(driveItem)", "value": value}
	if offset+top < len(kids) {
		base := d.URL
		if b := d.nextBase.Load(); b != nil {
			base = *b
		}
		next := url.Values{"$top": {strconv.Itoa(top)}, "$skiptoken": {pageToken(listing, offset+top)}}
		if sel := q.Get("$select"); sel != "" {
			next.Set("$select", sel)
		}
		ans["@odata.nextLink"] = base + r.URL.EscapedPath() + "?" + next.Encode()
	}
	writeJSON(w, 200, ans)
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
