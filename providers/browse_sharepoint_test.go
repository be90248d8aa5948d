package providers_test

import (
	"strings"
	"testing"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

const (
	spSecret  = "sp~browse~client~secret"
	spRefresh = "0.AX-sp-browse-refresh-token"
)

// sharePointBrowse is SharePoint browsing the Graph double as an app
// (client credentials) in drive b!drive; edit sets config fields.
func sharePointBrowse(t *testing.T) (browseSetup, *providertest.SharePoint, func(typ, secret string, edit map[string]any) providers.Config) {
	d := providertest.NewSharePoint(t, "tenant-1", "app-1", spSecret, spRefresh)
	cfg := func(typ, secret string, edit map[string]any) providers.Config {
		creds := map[string]any{"type": typ, "tenant_id": "tenant-1", "client_id": "app-1", "client_secret": secret}
		if typ == "delegated" {
			creds["refresh_token"] = spRefresh
		}
		c := providers.Config{"drive_id": "b!drive", "credentials": creds}
		for k, v := range edit {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	return browseSetup{provider: "sharepoint", cfg: cfg("client_credentials", spSecret, nil), wrong: cfg("client_credentials", "wrong-sp-secret", nil),
		env: providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}, requests: &d.Requests, last: d.LastURL,
		pageParam: "$top", mimeTypes: true, secrets: []string{spSecret, spRefresh, "wrong-sp-secret"}}, d, cfg
}

func TestBrowseSharePoint(t *testing.T) {
	t.Parallel()
	s, d, cfg := sharePointBrowse(t)
	runBrowseSuite(t, s)

	// The drive: drive_id's, else the site's default library, else the
	// root site's; the path is Graph's root:/{path}: form (each segment
	// escaped; shown unescaped here).
	for _, tc := range []struct {
		name string
		edit map[string]any
		path string
	}{
		{"drive id", nil, "/v1.0/drives/b!drive/root:/Reports:/children"},
		{"site id", map[string]any{"drive_id": nil, "site_id": "contoso.sharepoint.com,2C71,2D22"}, "/v1.0/sites/contoso.sharepoint.com,2C71,2D22/drive/root:/Reports:/children"},
		{"site path", map[string]any{"drive_id": nil, "site_id": "contoso.sharepoint.com:/sites/marketing"}, "/v1.0/sites/contoso.sharepoint.com:/sites/marketing:/drive/root:/Reports:/children"},
		{"root site", map[string]any{"drive_id": nil}, "/v1.0/sites/root/drive/root:/Reports:/children"},
	} {
		page := mustBrowse(t, "sharepoint", cfg("client_credentials", spSecret, tc.edit), s.env, providers.BrowseRequest{Kind: providers.BrowseFolders, Path: "/Reports"})
		if len(page.Items) != 1 || page.Items[0].ID != d.GraphID("/Reports/Mike's 2025") || page.Items[0].Path != "/Reports/Mike's 2025" {
			t.Errorf("%s: folders of /Reports: %+v", tc.name, page.Items)
		}
		if got := d.LastURL().Path; got != tc.path {
			t.Errorf("%s: asked Graph for %s, want %s", tc.name, got, tc.path)
		}
	}
	if page := mustBrowse(t, "sharepoint", s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles}); d.LastURL().Path != "/v1.0/drives/b!drive/root/children" || len(page.Items) != 2 {
		t.Errorf("the root is listed at %s: %+v", d.LastURL().Path, page.Items)
	}
	// A nested path with a space and a quote is escaped segment by segment.
	page := mustBrowse(t, "sharepoint", s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Reports/Mike's 2025"})
	if len(page.Items) != 1 || page.Items[0].ID != d.GraphID("/Reports/Mike's 2025/q1.csv") || !strings.Contains(d.LastURL().EscapedPath(), "%202025:/children") {
		t.Errorf("files of a nested folder: %+v at %s", page.Items, d.LastURL().EscapedPath())
	}

	// folder_path is the browse root, inside the drive.
	for _, root := range []string{"/Reports", "Reports/"} {
		under := cfg("client_credentials", spSecret, map[string]any{"folder_path": root})
		items, _ := walk(t, s, under, "/", providers.BrowseFiles, 4)
		if len(items) != 7 || items[0].Path != "/r01.pdf" {
			t.Errorf("files under folder_path %q: %d, first %+v", root, len(items), items)
		}
		if page := mustBrowse(t, "sharepoint", under, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "Mike's 2025"}); len(page.Items) != 1 {
			t.Errorf("a folder below folder_path: %+v", page.Items)
		}
	}

	expectBrowseRefusals(t, s, []browseRefusal{
		{"missing drive", cfg("client_credentials", spSecret, map[string]any{"drive_id": "b!missing"}), "/", "list folder: the drive was not found", notFound, 2},
		{"drive the app may not read", cfg("client_credentials", spSecret, map[string]any{"drive_id": "b!denied"}), "/Reports", "list folder: access to the folder was denied", refused, 2},
		{"missing folder", s.cfg, "/Reports/Nope", "list folder: the folder was not found", notFound, 2},
		{"wrong client secret", s.wrong, "/", "authenticate: authentication refused by the provider (HTTP 401 Unauthorized (invalid_client))", refused, 1},
		{"unknown tenant", cfg("client_credentials", spSecret, map[string]any{"credentials": map[string]any{"type": "client_credentials",
			"tenant_id": "tenant-x", "client_id": "app-1", "client_secret": spSecret}}), "/", "authenticate: the provider rejected the request", noFlag, 1},
		{"site id climbing out of /sites", cfg("client_credentials", spSecret, map[string]any{"drive_id": nil, "site_id": "../drives/x"}), "/", "list folder: site_id is not a Graph site id or site path", noFlag, 1},
		{"folder path climbing out", cfg("client_credentials", spSecret, map[string]any{"folder_path": "/a/../../b"}), "/", "list folder: folder_path is not a folder path in the drive", noFlag, 1},
	})
}

// The page token is the nextLink's $skiptoken and nothing else: a
// nextLink naming another host is not followed there (the guarded Env
// may dial only loopback, and nothing listens at the named address).
func TestBrowseSharePointIgnoresNextLinkHosts(t *testing.T) {
	t.Parallel()
	s, d, _ := sharePointBrowse(t)
	d.SetNextLinkBase("http://127.0.0.2:9/evil")
	s.env = localEnv(d.Endpoints())
	for _, kind := range []providers.BrowseKind{providers.BrowseFolders, providers.BrowseFiles} {
		before := d.Requests.Load()
		items, pages := walk(t, s, s.cfg, "/Reports", kind, 2)
		expectListing(t, s, items, "/Reports", kind)
		if got := d.Requests.Load() - before; got < int64(pages)*2 {
			t.Errorf("%d pages in %d requests to the double", pages, got)
		}
	}
	page := mustBrowse(t, "sharepoint", s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Reports", MaxResults: 2})
	if strings.Contains(page.NextCursor, "127.0.0.2") || strings.Contains(page.NextCursor, "evil") {
		t.Errorf("the cursor holds the next link: %s", page.NextCursor)
	}
}

// A delegated user's refresh token: Microsoft answers a new one to each
// refresh, which comes back as Rotated to store, on a failure too.
func TestBrowseSharePointDelegated(t *testing.T) {
	t.Parallel()
	s, d, cfg := sharePointBrowse(t)
	delegated := cfg("delegated", spSecret, nil)
	page := mustBrowse(t, "sharepoint", delegated, s.env, providers.BrowseRequest{Kind: providers.BrowseFolders})
	if len(page.Items) != 2 {
		t.Errorf("folders as the user: %+v", page.Items)
	}
	expectRotated(t, providers.Issued{Rotated: page.Rotated}, delegated, d.RefreshToken())
	page, be := browse(t, "sharepoint", delegated, s.env, providers.BrowseRequest{Kind: providers.BrowseFolders, Path: "/Nope"})
	if be == nil || !be.NotFound {
		t.Fatalf("a missing path: %+v", be)
	}
	expectRotated(t, providers.Issued{Rotated: page.Rotated}, delegated, d.RefreshToken())
	// A refused refresh token rotates nothing.
	bad := cfg("delegated", spSecret, nil)
	bad["credentials"].(map[string]any)["refresh_token"] = "bad-refresh-token"
	page, be = browse(t, "sharepoint", bad, s.env, providers.BrowseRequest{Kind: providers.BrowseFolders})
	if be == nil || !be.Refused || page.Rotated != nil || strings.Contains(be.Message, "bad-refresh-token") {
		t.Errorf("a refused refresh token: %+v, Rotated %v", be, page.Rotated != nil)
	}
}
