package providers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

// Providers without folders have no Browse: the server answers 409 for
// them without calling anything.
func TestBrowseOnlyWhereThereAreFolders(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"rss", "http_api", "postgresql", "snowflake", "instagram", "tiktok", "brightdata"} {
		p, ok := providers.Lookup(typ)
		if !ok {
			t.Fatalf("%s is not registered", typ)
		}
		if p.Browse != nil {
			t.Errorf("%s has a Browse, but no folders", typ)
		}
	}
}

// browseSetup is one provider browsing its double, which serves
// providertest.SampleTree at the config's browse root.
type browseSetup struct {
	provider string
	cfg      providers.Config // credentials the double takes
	wrong    providers.Config // credentials the double refuses
	env      providers.Env
	requests *atomic.Int64   // every request the double received
	last     func() *url.URL // the double's last request
	// pageParam is the list call's page size parameter.
	pageParam string
	// mimeTypes: the provider reports files' types (Drive, Graph).
	mimeTypes bool
	// fileIsNoFolder: browsing a file's path is not found (every
	// provider but Graph, whose answer for a file's children the double
	// does not claim to know).
	fileIsNoFolder bool
	secrets        []string
}

// browseCtx calls Browse under ctx; every error must be a *BrowseError.
func browseCtx(ctx context.Context, t *testing.T, provider string, cfg providers.Config, env providers.Env, req providers.BrowseRequest) (providers.BrowsePage, *providers.BrowseError) {
	t.Helper()
	p, ok := providers.Lookup(provider)
	if !ok || p.Browse == nil {
		t.Fatalf("%s cannot browse", provider)
	}
	page, err := p.Browse(ctx, cfg, env, req)
	if err == nil {
		return page, nil
	}
	var be *providers.BrowseError
	if !errors.As(err, &be) {
		t.Fatalf("%s: browse failed with %v (%T), want a *BrowseError", provider, err, err)
	}
	return page, be
}

// browse calls Browse under a 10 s deadline.
func browse(t *testing.T, provider string, cfg providers.Config, env providers.Env, req providers.BrowseRequest) (providers.BrowsePage, *providers.BrowseError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return browseCtx(ctx, t, provider, cfg, env, req)
}

// mustBrowse is a browse that must succeed.
func mustBrowse(t *testing.T, provider string, cfg providers.Config, env providers.Env, req providers.BrowseRequest) providers.BrowsePage {
	t.Helper()
	page, err := browse(t, provider, cfg, env, req)
	if err != nil {
		t.Fatalf("%s: browse %s %q: %s", provider, req.Kind, req.Path, err.Message)
	}
	return page
}

// flag is which of a BrowseError's flags a failure must set.
type flag int

const (
	noFlag flag = iota
	refused
	notFound
	timedOut
	invalid
)

// expectBrowseError runs a browse that must fail, raw (before scrubbing)
// and as callers get it: neither may show a secret (raw, URL-escaped or
// base64), the error must say want and set exactly the flag, and the
// double must serve sent requests for each run. Each run has its own
// deadline (negative: spent before it starts).
func expectBrowseError(t *testing.T, s browseSetup, deadline time.Duration, cfg providers.Config, req providers.BrowseRequest, want string, f flag, sent int64) *providers.BrowseError {
	t.Helper()
	p, _ := providers.Lookup(s.provider)
	before := s.requests.Load()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	_, raw := providers.RawBrowse(ctx, p, cfg, s.env, req)
	if raw == nil {
		t.Fatalf("%s: raw browse %s %q succeeded, want %q", s.provider, req.Kind, req.Path, want)
	}
	assertNoSecretIn(t, "raw browse error", raw.Error(), s.secrets)
	if got := s.requests.Load() - before; got != sent {
		t.Errorf("%s: the raw browse sent %d requests, want %d", s.provider, got, sent)
	}
	before = s.requests.Load()
	ctx, cancel = context.WithTimeout(context.Background(), deadline)
	defer cancel()
	_, be := browseCtx(ctx, t, s.provider, cfg, s.env, req)
	if be == nil {
		t.Fatalf("%s: browse %s %q succeeded, want %q", s.provider, req.Kind, req.Path, want)
	}
	if got := s.requests.Load() - before; got != sent {
		t.Errorf("%s: the browse sent %d requests, want %d", s.provider, got, sent)
	}
	assertNoSecretIn(t, "browse error", be.Message, s.secrets)
	if !strings.Contains(be.Message, want) {
		t.Errorf("%s: BrowseError %q, want it to say %q", s.provider, be.Message, want)
	}
	got := map[flag]bool{refused: be.Refused, notFound: be.NotFound, timedOut: be.TimedOut, invalid: be.Invalid}
	for fl, set := range got {
		if set != (fl == f) {
			t.Errorf("%s: BrowseError %+v, want only flag %d set", s.provider, *be, f)
			break
		}
	}
	return be
}

// assertNoSecretIn fails if text shows a secret in any form a provider
// might echo it.
func assertNoSecretIn(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s), base64.StdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s))} {
			if strings.Contains(text, form) {
				t.Errorf("%s reveals a secret: %q", what, text)
			}
		}
	}
}

// expected are SampleTree's entries of kind in the folder at path, by name.
func expected(t *testing.T, path string, kind providers.BrowseKind) map[string]*providertest.Entry {
	t.Helper()
	dir := providertest.SampleTree().Find(path)
	if dir == nil || !dir.Folder {
		t.Fatalf("no folder %s in the sample tree", path)
	}
	out := map[string]*providertest.Entry{}
	for _, c := range dir.Children {
		if c.Folder == (kind == providers.BrowseFolders) {
			out[c.Name] = c
		}
	}
	return out
}

// walk lists the folder at path to its end, max per page, and returns
// every item and the number of pages. Every page holds at most max items,
// every page but the last exactly max, each with the cleaned path as its
// ParentPath, and no item comes twice.
func walk(t *testing.T, s browseSetup, cfg providers.Config, path string, kind providers.BrowseKind, max int) ([]providers.BrowseItem, int) {
	t.Helper()
	var all []providers.BrowseItem
	seen := map[string]bool{}
	cursor := ""
	for pages := 1; ; pages++ {
		if pages > 50 {
			t.Fatalf("%s: more than 50 pages of %s", s.provider, path)
		}
		page := mustBrowse(t, s.provider, cfg, s.env, providers.BrowseRequest{Kind: kind, Path: path, MaxResults: max, Cursor: cursor})
		limit := max
		if limit <= 0 {
			limit = providers.DefaultBrowseResults
		}
		if len(page.Items) > limit || (page.NextCursor != "" && len(page.Items) != limit) {
			t.Errorf("%s: page %d of %s has %d items (max %d, more to come: %v)", s.provider, pages, path, len(page.Items), limit, page.NextCursor != "")
		}
		if want := cleanPath(path); page.ParentPath != want {
			t.Errorf("%s: ParentPath %q, want %q", s.provider, page.ParentPath, want)
		}
		for _, it := range page.Items {
			if seen[it.ID] {
				t.Errorf("%s: item %s (%s) listed twice", s.provider, it.ID, it.Path)
			}
			seen[it.ID] = true
		}
		all = append(all, page.Items...)
		if cursor = page.NextCursor; cursor == "" {
			return all, pages
		}
	}
}

func cleanPath(p string) string {
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return "/" + strings.Join(segs, "/")
}

// expectListing asserts that items are exactly the sample tree's entries
// of kind at path, each as the provider reports it.
func expectListing(t *testing.T, s browseSetup, items []providers.BrowseItem, path string, kind providers.BrowseKind) {
	t.Helper()
	want := expected(t, path, kind)
	var got []string
	for _, it := range items {
		got = append(got, it.Name)
		e, ok := want[it.Name]
		if !ok {
			t.Errorf("%s: unexpected item %+v in %s", s.provider, it, path)
			continue
		}
		if wantPath := strings.TrimSuffix(cleanPath(path), "/") + "/" + e.Name; it.Path != wantPath {
			t.Errorf("%s: item path %q, want %q", s.provider, it.Path, wantPath)
		}
		if it.ID == "" || it.IsFolder != e.Folder {
			t.Errorf("%s: item %+v: want an id and IsFolder %v", s.provider, it, e.Folder)
		}
		if e.Folder {
			if it.Size != nil {
				t.Errorf("%s: folder %s has a size", s.provider, it.Path)
			}
			continue
		}
		if it.Size == nil || *it.Size != e.Size {
			t.Errorf("%s: file %s has size %v, want %d", s.provider, it.Path, it.Size, e.Size)
		}
		if it.ModifiedAt == nil || !it.ModifiedAt.Equal(e.Modified) {
			t.Errorf("%s: file %s modified %v, want %v", s.provider, it.Path, it.ModifiedAt, e.Modified)
		}
		if s.mimeTypes && it.MimeType != e.MimeType {
			t.Errorf("%s: file %s has type %q, want %q", s.provider, it.Path, it.MimeType, e.MimeType)
		}
	}
	var names []string
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(got)
	sort.Strings(names)
	if strings.Join(got, "|") != strings.Join(names, "|") {
		t.Errorf("%s: %s of %s are %q, want %q", s.provider, kind, path, got, names)
	}
}

// runBrowseSuite is what every provider that browses must do against
// its double.
func runBrowseSuite(t *testing.T, s browseSetup) {
	kinds := []providers.BrowseKind{providers.BrowseFolders, providers.BrowseFiles}
	t.Run("root and subfolders, one page each", func(t *testing.T) {
		for _, path := range []string{"/", "", "/Reports", "Reports/", "/Reports/Mike's 2025", "/Archive"} {
			for _, kind := range kinds {
				items, pages := walk(t, s, s.cfg, path, kind, 0)
				if pages != 1 {
					t.Errorf("%s: %s of %q took %d pages at the default size", s.provider, kind, path, pages)
				}
				expectListing(t, s, items, path, kind)
			}
		}
	})
	t.Run("paging with the cursor until the end", func(t *testing.T) {
		for _, path := range []string{"/", "/Reports"} {
			for _, kind := range kinds {
				for _, max := range []int{1, 2, 3} {
					items, pages := walk(t, s, s.cfg, path, kind, max)
					expectListing(t, s, items, path, kind)
					if n := len(expected(t, path, kind)); pages < (n+max-1)/max {
						t.Errorf("%s: %d %s in %d pages of %d", s.provider, n, kind, pages, max)
					}
				}
			}
		}
	})
	t.Run("max results", func(t *testing.T) {
		page := mustBrowse(t, s.provider, s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Reports", MaxResults: 3})
		if len(page.Items) != 3 || page.NextCursor == "" {
			t.Errorf("%s: max 3 of 7 files gave %d items, cursor %q", s.provider, len(page.Items), page.NextCursor)
		}
		// The last call asked for the room left on the page (3, or less
		// when an earlier call brought items of the other kind).
		if got := s.last().Query().Get(s.pageParam); got != "1" && got != "2" && got != "3" {
			t.Errorf("%s: asked the provider for %s=%s, want at most 3", s.provider, s.pageParam, got)
		}
		for _, tc := range []struct {
			max  int
			want string
		}{{0, "50"}, {-5, "50"}, {5000, "1000"}, {1000, "1000"}} {
			mustBrowse(t, s.provider, s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/", MaxResults: tc.max})
			if got := s.last().Query().Get(s.pageParam); got != tc.want {
				t.Errorf("%s: max_results %d asked the provider for %s=%s, want %s", s.provider, tc.max, s.pageParam, got, tc.want)
			}
		}
	})
	t.Run("a missing path is not found", func(t *testing.T) {
		paths := []string{"/Nope", "/Reports/Nope", "/Nope/Reports"}
		if s.fileIsNoFolder {
			paths = append(paths, "/readme.txt")
		}
		for _, path := range paths {
			for _, kind := range kinds {
				_, be := browse(t, s.provider, s.cfg, s.env, providers.BrowseRequest{Kind: kind, Path: path})
				if be == nil || !be.NotFound || be.Refused || be.TimedOut || be.Invalid {
					t.Errorf("%s: %s of missing %s: %+v, want NotFound", s.provider, kind, path, be)
				}
			}
		}
	})
	t.Run("wrong credentials are refused", func(t *testing.T) {
		for _, kind := range kinds {
			_, be := browse(t, s.provider, s.wrong, s.env, providers.BrowseRequest{Kind: kind, Path: "/Reports"})
			if be == nil || !be.Refused || be.NotFound || be.TimedOut {
				t.Fatalf("%s: wrong credentials: %+v, want Refused", s.provider, be)
			}
			assertNoSecretIn(t, "browse error", be.Message, s.secrets)
		}
	})
	t.Run("a spent deadline times out and sends nothing", func(t *testing.T) {
		expectBrowseError(t, s, -time.Second, s.cfg, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Reports"},
			"did not answer before the deadline", timedOut, 0)
	})
	t.Run("invalid requests send nothing", func(t *testing.T) {
		first := mustBrowse(t, s.provider, s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Reports", MaxResults: 2})
		if first.NextCursor == "" {
			t.Fatalf("%s: no cursor after 2 of 7 files", s.provider)
		}
		for _, tc := range []struct {
			name string
			req  providers.BrowseRequest
			want string
		}{
			{"no kind", providers.BrowseRequest{Path: "/"}, "read request: the kind must be folders or files"},
			{"another kind", providers.BrowseRequest{Kind: "objects"}, "read request: the kind must be folders or files"},
			{"dot dot", providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Reports/../Archive"}, `must not hold "." or ".."`},
			{"control bytes", providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Rep\x00orts"}, "bytes that are not text"},
			{"cursor of another path", providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/", Cursor: first.NextCursor}, "read cursor"},
			{"cursor of another kind", providers.BrowseRequest{Kind: providers.BrowseFolders, Path: "/Reports", Cursor: first.NextCursor}, "read cursor"},
			{"cursor that is not ours", providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Reports", Cursor: "http://169.254.169.254/latest"}, "read cursor"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				expectBrowseError(t, s, 10*time.Second, s.cfg, tc.req, tc.want, invalid, 0)
			})
		}
		// The cursor is the same listing's from another page size too.
		next := mustBrowse(t, s.provider, s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "Reports/", MaxResults: 5, Cursor: first.NextCursor})
		if len(next.Items) != 5 || next.Items[0].ID == first.Items[0].ID || next.Items[0].ID == first.Items[1].ID {
			t.Errorf("%s: the second page repeats the first or is short: %d items", s.provider, len(next.Items))
		}
	})
}

// expectBrowseRefusals browses with each config, raw and safe, and
// asserts the failure and that neither error shows a secret.
func expectBrowseRefusals(t *testing.T, s browseSetup, cases []browseRefusal) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectBrowseError(t, s, 10*time.Second, tc.cfg, providers.BrowseRequest{Kind: providers.BrowseFolders, Path: tc.path}, tc.want, tc.flag, tc.sent)
		})
	}
}

// browseRefusal is a browse the provider (or the configuration) refuses.
type browseRefusal struct {
	name string
	cfg  providers.Config
	path string
	want string
	flag flag
	sent int64 // requests each run sends
}

// The six providers with folders browse; each starts from its typed
// config, so one that does not decode is refused before anything is sent
// (the zero Env has no client: a request would panic), and a panic while
// browsing is a failure that shows nothing of the config.
func TestEveryFolderProviderBrowses(t *testing.T) {
	t.Parallel()
	const secret = "panic-secret-value-42"
	for _, typ := range []string{"google_drive", "sharepoint", "box", "s3", "tigris", "backblaze"} {
		page, be := browse(t, typ, providers.Config{"credentials": "not an object"}, providers.Env{}, providers.BrowseRequest{Kind: providers.BrowseFolders})
		if be == nil || be.Message != "read configuration: the configuration cannot be read" || be.Refused || page.Rotated != nil {
			t.Errorf("%s: an unreadable config: %+v", typ, be)
		}
		// No HTTP client: the first request panics.
		cfg := providers.Config{"bucket": "b", "endpoint_url": "http://127.0.0.1:9", "credentials": map[string]any{"type": "access_key",
			"access_key_id": "AKIAPANIC", "secret_access_key": secret, "key_id": "k", "application_key": secret,
			"tenant_id": "t", "client_id": "c", "client_secret": secret, "enterprise_id": "1", "refresh_token": secret}}
		switch typ {
		case "google_drive":
			cfg["credentials"].(map[string]any)["type"] = "oauth"
		case "sharepoint":
			cfg["credentials"].(map[string]any)["type"] = "client_credentials"
		case "box":
			cfg["credentials"].(map[string]any)["type"] = "ccg"
		case "backblaze":
			cfg["credentials"].(map[string]any)["type"] = "application_key"
		}
		_, be = browse(t, typ, cfg, providers.Env{}, providers.BrowseRequest{Kind: providers.BrowseFiles})
		if be == nil || be.Message != "browse: browsing "+typ+" failed unexpectedly" {
			t.Errorf("%s: a panic: %+v", typ, be)
		}
	}
}

// An S3-compatible answer larger than 4 MiB is refused, for the check and
// the browse alike (minio reads its answers itself; the transport bounds
// them).
func TestS3AnswersAreBounded(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>`))
		junk := bytes.Repeat([]byte("x"), 1<<20)
		for i := 0; i < 5; i++ {
			_, _ = w.Write(junk)
		}
		_, _ = w.Write([]byte(`</Name></ListBucketResult>`))
	}))
	t.Cleanup(srv.Close)
	cfg := s3Config(srv.URL, "big", "AKIABIG", "big-secret-value")
	_, be := browse(t, "s3", cfg, localEnv(nil), providers.BrowseRequest{Kind: providers.BrowseFiles})
	if be == nil || !strings.Contains(be.Message, "larger than the 4 MiB limit") {
		t.Errorf("browse of an oversized answer: %+v", be)
	}
	if res := rawCheck(t, "s3", cfg, localEnv(nil)); res.Success || !strings.Contains(res.Message, "larger than the 4 MiB limit") {
		t.Errorf("check of an oversized answer: %+v", res)
	}
}
