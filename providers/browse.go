package providers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/connvault/connvault"
)

// Browsing: what a provider with folders or objects lists for a user who
// picks a folder to sync (GET .../{connection}/folders and .../files).
// Provider.Browse is nil for providers without folders. Each provider
// answers from its own list API, through the token exchange its check
// uses and the Env's SSRF guard, deadline and size limits:
//
//   - google_drive: files.list with q = '<folder>' in parents and
//     trashed = false (and the kind's mimeType), pageToken as the cursor.
//   - sharepoint: Graph GET /drives/{drive}/root:/{path}:/children,
//     $skiptoken of @odata.nextLink as the cursor.
//   - box: GET /2.0/folders/{id}/items, limit and offset.
//   - s3, tigris, backblaze: ListObjectsV2 with delimiter "/": common
//     prefixes are folders, objects files; the continuation token as the
//     cursor.
//
// A caller (the server's browse routes) calls Browse under a deadline,
// stores page.Rotated whenever it is set (on failure too), and reads the
// outcome like a check's: success is a use of the connection; Refused is
// an auth or permission failure (a failed check's consequences, with
// Message as last_error); NotFound, Invalid and TimedOut are answers about
// the request or the provider's speed, not the credentials.

// BrowseKind is what a browse lists: folders or files.
type BrowseKind string

const (
	// BrowseFolders lists only the folders in a folder.
	BrowseFolders BrowseKind = "folders"
	// BrowseFiles lists only the files in a folder.
	BrowseFiles BrowseKind = "files"
)

const (
	// DefaultBrowseResults is MaxResults when a request leaves it unset.
	DefaultBrowseResults = 50
	// MaxBrowseResults caps MaxResults: larger requests get this many.
	MaxBrowseResults = 1000
	// maxBrowseCursor bounds the cursor a client sends back.
	maxBrowseCursor = 8 << 10
	// maxBrowsePath bounds the path a client asks for.
	maxBrowsePath = 2048
	// maxBrowseCalls bounds the list calls one browse makes to fill a
	// page with items of its kind (S3, Graph and Box list both kinds
	// together): past it the page is answered short, with a cursor.
	maxBrowseCalls = 10
)

// BrowseRequest is one page of a folder's listing.
type BrowseRequest struct {
	// Kind is BrowseFolders or BrowseFiles; anything else is refused
	// (Invalid).
	Kind BrowseKind
	// Path is the folder, "/"-separated from the browse root of the
	// connection ("" or "/" is the root; "A/B" reads as "/A/B"; empty
	// segments are dropped, "." and ".." refused). The root is where the
	// connection's config points: Drive's folder_id, else its shared
	// drive, else My Drive; SharePoint's folder_path in its drive; Box's
	// folder_id ("0", All Files, by default); the bucket (under its prefix)
	// for S3-compatible providers. Names are matched exactly (Drive and
	// Box resolve a path one folder name at a time, taking the first of
	// same-named folders), so a Drive item whose name contains "/" cannot
	// be addressed by path.
	Path string
	// MaxResults is the most items the page holds: DefaultBrowseResults
	// when zero or negative, at most MaxBrowseResults.
	MaxResults int
	// Cursor is a NextCursor from an earlier page of the same Kind and
	// Path; "" for the first page.
	Cursor string
}

// BrowsePage is one page of a listing.
type BrowsePage struct {
	// Items are the folder's folders or files (by the request's Kind),
	// at most MaxResults of them. Each item appears on exactly one page.
	Items []BrowseItem
	// ParentPath is the folder that was listed, as cleaned: "/" for the
	// root, "/A/B" below it (Mixpeek's parent_path).
	ParentPath string
	// NextCursor continues the listing; "" when it is complete. A page
	// may hold fewer than MaxResults items (even none) and still have a
	// NextCursor: only an empty NextCursor ends the listing. It is opaque
	// to clients and bound to the request's Kind and Path; it names no
	// URL or host, only the provider's page token for the same list call.
	NextCursor string
	// Rotated is the full config with the secrets the provider replaced
	// while browsing (Box answers a new refresh token to every refresh
	// and revokes the old one), nil when none: as for Result.Rotated and
	// Issued.Rotated, the caller must store it. It is set even when Browse
	// returns an error, since the exchange may succeed and the listing
	// fail afterwards.
	Rotated Config
}

// BrowseItem is one folder or file.
type BrowseItem struct {
	// ID is the provider's own id of the item, the one a sync would name:
	// a Drive file id, a Graph driveItem id, a Box id, an S3 object key
	// (a folder's is its prefix, ending in "/").
	ID string
	// Name is the item's name in its folder.
	Name string
	// Path is ParentPath joined with Name: what a further browse of a
	// folder item takes as its Path.
	Path string
	// MimeType is the type the provider reports: Drive's for every item
	// (folders are application/vnd.google-apps.folder), Graph's for
	// files; empty where the provider has none (Box, S3, Graph folders).
	MimeType string
	// Size is the file's size in bytes when the provider reports one (not
	// for folders, nor for Google Docs, which have no size).
	Size *int64
	// ModifiedAt is when the item last changed, when the provider says.
	ModifiedAt *time.Time
	// IsFolder is set for folders.
	IsFolder bool
}

// BrowseError is a browse that failed. At most one flag is set; with
// none, the provider failed otherwise (an outage, an answer that could
// not be read) or the configuration cannot browse (the message says).
type BrowseError struct {
	// Message is safe to show: it names the step that failed ("read
	// credentials", "authenticate", "resolve path", "list folder", "list
	// bucket", "read cursor", "read request") and its cause, never a
	// secret (scrubbed of the config's secret values, then cleaned).
	Message string
	// Refused is set when the credentials were refused, or lack the
	// permission to list (HTTP 401/403, an OAuth refusal, S3's
	// AccessDenied and signature codes), or cannot be used as stored (a
	// private key that does not parse): an auth or permission failure.
	Refused bool
	// NotFound is set when the path (or the bucket, drive or root folder
	// of the config) does not exist, or the credentials cannot see it.
	NotFound bool
	// TimedOut is set when ctx's deadline ended the browse.
	TimedOut bool
	// Invalid is set when the request itself is wrong: a Kind other than
	// folders or files, a path with "." or "..", a cursor this listing
	// did not hand out.
	Invalid bool

	step string
}

func (e *BrowseError) Error() string { return e.Message }

// browseFailure is a failed step of a browse with a user-facing msg.
func browseFailure(step, msg string) *BrowseError {
	return &BrowseError{Message: step + ": " + msg, step: step}
}

// invalidBrowse is a browse refused for its request.
func invalidBrowse(step, msg string) *BrowseError {
	e := browseFailure(step, msg)
	e.Invalid = true
	return e
}

// notFound is a browse of something that does not exist.
func notFound(step, msg string) *BrowseError {
	e := browseFailure(step, msg)
	e.NotFound = true
	return e
}

// readFailure is a failed API read of thing with a token or key the
// provider accepted (or refused): 401 and 403 refuse, 404 is not found.
func readFailure(step string, err error, thing string) *BrowseError {
	e := browseFailure(step, describeRead(err, thing))
	var se *httpStatusError
	if errors.As(err, &se) {
		switch se.Status {
		case http.StatusUnauthorized, http.StatusForbidden:
			e.Refused = true
		case http.StatusNotFound:
			e.NotFound = true
		}
	}
	return e
}

// browseQuery is a BrowseRequest as a provider's browse receives it:
// checked, defaults applied, the cursor opened.
type browseQuery struct {
	Kind BrowseKind
	// Segments are Path's folder names below the browse root; none for
	// the root.
	Segments []string
	// Path is the cleaned path, "/" or "/A/B".
	Path string
	// Max is the most items the page may hold.
	Max int
	// Token is the provider's page token from the cursor; "" for the
	// first page.
	Token string
}

// wants reports whether an item of the given folderness belongs in the
// listing.
func (q browseQuery) wants(folder bool) bool { return folder == (q.Kind == BrowseFolders) }

// itemPath is the path of a child of the listed folder.
func (q browseQuery) itemPath(name string) string {
	if q.Path == "/" {
		return "/" + name
	}
	return q.Path + "/" + name
}

// browseListing is what a provider's browse answers: the page's items of
// the query's kind, the provider's token for the next page ("" at the
// end), and the secrets it replaced (as Result.Rotated before merging),
// set on failure too.
type browseListing struct {
	items   []BrowseItem
	next    string
	rotated Config
}

// browseFunc is a provider's browse of its typed config.
type browseFunc[C any] func(ctx context.Context, c C, env Env, q browseQuery) (browseListing, error)

// option is an optional operation a provider file declares at register.
type option[C any] func(p *Provider, decode func(Config) (C, error))

// secretsBoundTo declares Provider.SecretsBoundTo.
func secretsBoundTo[C any](paths ...string) option[C] {
	return func(p *Provider, _ func(Config) (C, error)) { p.SecretsBoundTo = paths }
}

// browsing declares a provider's browse (see Provider.Browse).
func browsing[C any](browse browseFunc[C]) option[C] {
	return func(p *Provider, decode func(Config) (C, error)) {
		p.browse = func(ctx context.Context, cfg Config, env Env, req BrowseRequest) (BrowsePage, error) {
			q, bad := newBrowseQuery(req)
			if bad != nil {
				return BrowsePage{}, bad
			}
			c, derr := decode(cfg)
			if derr != nil {
				return BrowsePage{}, errUnreadableConfig
			}
			ls, err := browse(ctx, c, env, q)
			page := BrowsePage{Rotated: withReplaced(p, cfg, ls.rotated)}
			if err != nil {
				return page, err
			}
			page.Items, page.ParentPath = ls.items, q.Path
			if page.Items == nil {
				page.Items = []BrowseItem{}
			}
			if ls.next != "" {
				page.NextCursor = encodeCursor(q, ls.next)
			}
			return page, nil
		}
		p.Browse = safeBrowse(p, p.browse)
	}
}

// safeBrowse makes browse safe to hand to callers, as wrapIssue does for
// issues: a panic becomes a BrowseError, every failure is a *BrowseError
// (running out of time marked TimedOut) whose message is scrubbed of the
// config's secrets and cleaned. Rotated survives a failure.
func safeBrowse(p *Provider, browse func(ctx context.Context, cfg Config, env Env, req BrowseRequest) (BrowsePage, error)) func(ctx context.Context, cfg Config, env Env, req BrowseRequest) (BrowsePage, error) {
	return func(ctx context.Context, cfg Config, env Env, req BrowseRequest) (page BrowsePage, err error) {
		defer func() {
			if r := recover(); r != nil {
				// The panic value is not shown: it may hold the config.
				page, err = BrowsePage{}, browseFailure("browse", fmt.Sprintf("browsing %s failed unexpectedly", p.Type))
			}
			if err != nil {
				page = BrowsePage{Rotated: page.Rotated}
				err = browseError(ctx, err, SecretValues(p, cfg))
			}
		}()
		return browse(ctx, cfg, env, req)
	}
}

// browseError turns a failed browse into the *BrowseError callers get.
func browseError(ctx context.Context, err error, secrets []string) *BrowseError {
	var be *BrowseError
	var se *stepError
	switch {
	case errors.As(err, &be):
		cp := *be
		be = &cp
	case errors.As(err, &se):
		// The steps browse shares with checks and issues: reading the
		// credentials (unusable as stored), the token exchange, assuming
		// a role.
		be = browseFailure(se.step, se.msg)
		be.Refused = se.refused || se.step == "read credentials"
	default:
		be = browseFailure("browse", err.Error())
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		step := be.step
		if step == "" {
			step = "browse"
		}
		be = &BrowseError{Message: step + ": the provider did not answer before the deadline", TimedOut: true, step: step}
	}
	be.Message = connvault.CleanText(Scrub(be.Message, secrets))
	return be
}

// newBrowseQuery checks a request and applies its defaults.
func newBrowseQuery(req BrowseRequest) (browseQuery, *BrowseError) {
	q := browseQuery{Kind: req.Kind, Max: req.MaxResults}
	if q.Kind != BrowseFolders && q.Kind != BrowseFiles {
		return browseQuery{}, invalidBrowse("read request", "the kind must be folders or files")
	}
	if q.Max <= 0 {
		q.Max = DefaultBrowseResults
	}
	q.Max = min(q.Max, MaxBrowseResults)
	segs, bad := splitBrowsePath(req.Path)
	if bad != nil {
		return browseQuery{}, bad
	}
	q.Segments, q.Path = segs, "/"+strings.Join(segs, "/")
	if req.Cursor != "" {
		if q.Token, bad = decodeCursor(req.Cursor, q); bad != nil {
			return browseQuery{}, bad
		}
	}
	return q, nil
}

// splitBrowsePath splits a path into its folder names, dropping empty
// segments and refusing dot segments and control characters.
func splitBrowsePath(p string) ([]string, *BrowseError) {
	if len(p) > maxBrowsePath {
		return nil, invalidBrowse("read request", fmt.Sprintf("the path is longer than %d bytes", maxBrowsePath))
	}
	if !utf8.ValidString(p) || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, invalidBrowse("read request", "the path holds bytes that are not text")
	}
	var segs []string
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "":
		case ".", "..":
			return nil, invalidBrowse("read request", `the path must not hold "." or ".." segments`)
		default:
			segs = append(segs, s)
		}
	}
	return segs, nil
}

// browseCursor is what NextCursor encodes: the provider's page token,
// bound to the listing it continues.
type browseCursor struct {
	Kind  BrowseKind `json:"k"`
	Path  string     `json:"p"`
	Token string     `json:"t"`
}

// encodeCursor wraps a provider's page token for q's listing.
func encodeCursor(q browseQuery, token string) string {
	b, _ := json.Marshal(browseCursor{Kind: q.Kind, Path: q.Path, Token: token})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor opens a cursor for q's listing and returns its page token.
// A cursor of another kind or path, or one that is not ours, is refused:
// the token is only ever sent back to the list call that answered it, as
// a parameter of a URL the provider builds from configuration.
func decodeCursor(s string, q browseQuery) (string, *BrowseError) {
	bad := invalidBrowse("read cursor", "the cursor was not handed out by this listing (same kind and path)")
	if len(s) > maxBrowseCursor {
		return "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", bad
	}
	var c browseCursor
	if json.Unmarshal(b, &c) != nil || c.Kind != q.Kind || c.Path != q.Path || c.Token == "" {
		return "", bad
	}
	return c.Token, nil
}

// pageThrough fills a page for q from fetch, which lists up to limit
// entries after token and answers those of q's kind and the token after
// them ("" at the end). It asks again while the page has room and the
// listing goes on, at most maxBrowseCalls times, so providers that list
// folders and files together answer full pages where they can; each call
// asks for no more than the room left, so no item is skipped or repeated.
func pageThrough(q browseQuery, fetch func(token string, limit int) ([]BrowseItem, string, error)) ([]BrowseItem, string, error) {
	items := []BrowseItem{}
	token := q.Token
	for calls := 0; calls < maxBrowseCalls && len(items) < q.Max; calls++ {
		got, next, err := fetch(token, q.Max-len(items))
		if err != nil {
			return nil, "", err
		}
		items = append(items, got...)
		if token = next; token == "" {
			break
		}
	}
	return items, token, nil
}

// int64p is a pointer to n, for BrowseItem.Size.
func int64p(n int64) *int64 { return &n }

// timep parses an RFC 3339 time, nil when there is none.
func timep(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil
	}
	t = t.UTC()
	return &t
}
