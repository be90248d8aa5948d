package providers_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

const (
	boxSecret  = "box-browse-client-secret"
	boxRefresh = "box-browse-refresh-token"
)

// boxBrowse is Box browsing its double with client credentials (CCG) for
// the enterprise; cfg builds other credentials.
func boxBrowse(t *testing.T) (browseSetup, *providertest.Box, func(kv ...string) providers.Config, providertest.KeyPair) {
	key, other := providertest.NewKeyPair(t), providertest.NewKeyPair(t)
	d := providertest.NewBox(t, "box-client", boxSecret, boxRefresh, "9001", "pubkey1", key)
	cfg := func(kv ...string) providers.Config {
		creds := map[string]any{"client_id": "box-client", "client_secret": boxSecret}
		c := providers.Config{"credentials": creds}
		for i := 0; i < len(kv); i += 2 {
			if kv[i] == "folder_id" {
				c["folder_id"] = kv[i+1]
			} else {
				creds[kv[i]] = kv[i+1]
			}
		}
		return c
	}
	secrets := append([]string{boxSecret, boxRefresh, "wrong-box-secret"}, pemLines(key.PKCS8PEM)...)
	secrets = append(secrets, pemLines(other.PKCS8PEM)...)
	return browseSetup{provider: "box", cfg: cfg("type", "ccg", "enterprise_id", "9001"),
		wrong: cfg("type", "ccg", "enterprise_id", "9001", "client_secret", "wrong-box-secret"),
		env:   providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}, requests: &d.Requests, last: d.LastURL,
		pageParam: "limit", fileIsNoFolder: true, secrets: secrets}, d, cfg, other
}

func TestBrowseBox(t *testing.T) {
	t.Parallel()
	s, d, cfg, other := boxBrowse(t)
	runBrowseSuite(t, s)

	// The root is All Files ("0"); a path is resolved by name, one items
	// read per segment; ids are Box's.
	before := d.Requests.Load()
	page := mustBrowse(t, "box", s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Reports/Mike's 2025"})
	if got := d.Requests.Load() - before; got != 4 {
		t.Errorf("a browse two folders deep took %d requests, want 4 (token, two folders' items, the listing)", got)
	}
	if len(page.Items) != 1 || page.Items[0].ID != d.BoxID("/Reports/Mike's 2025/q1.csv") {
		t.Errorf("files of a nested folder: %+v", page.Items)
	}
	if u := d.LastURL(); u.Path != "/2.0/folders/"+d.BoxID("/Reports/Mike's 2025")+"/items" || u.Query().Get("fields") != "name,size,modified_at" || u.Query().Get("offset") != "0" {
		t.Errorf("the listing asked for %s", u)
	}
	// folder_id is the browse root: 12345 is /Reports.
	reports := cfg("type", "ccg", "enterprise_id", "9001", "folder_id", "12345")
	items, _ := walk(t, s, reports, "/", providers.BrowseFiles, 3)
	if len(items) != 7 || items[0].Path != "/r01.pdf" {
		t.Errorf("files under folder_id: %d, first %+v", len(items), items)
	}
	if page := mustBrowse(t, "box", reports, s.env, providers.BrowseRequest{Kind: providers.BrowseFolders}); len(page.Items) != 1 || page.Items[0].Path != "/Mike's 2025" {
		t.Errorf("folders under folder_id: %+v", page.Items)
	}

	cursor := func(token string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(`{"k":"files","p":"/Reports","t":"` + token + `"}`))
	}
	expectBrowseRefusals(t, s, []browseRefusal{
		{"missing root folder", cfg("type", "ccg", "enterprise_id", "9001", "folder_id", "999"), "/", "list folder: the folder was not found", notFound, 2},
		{"a file is no folder", s.cfg, "/readme.txt", "resolve path: no folder /readme.txt in the folder", notFound, 2},
		{"wrong client secret", s.wrong, "/", "authenticate: authentication refused by the provider (HTTP 400 Bad Request (invalid_client))", refused, 1},
		{"jwt signed by another key", cfg("type", "jwt", "jwt_key_id", "pubkey1", "enterprise_id", "9001", "private_key", other.PKCS8PEM),
			"/", "authenticate: authentication refused by the provider (HTTP 400 Bad Request (invalid_grant))", refused, 1},
		{"ccg without a subject", cfg("type", "ccg"), "/", "read credentials: ccg credentials need enterprise_id or user_id", refused, 0},
	})
	// A cursor that is this listing's but not an offset is refused before
	// anything is sent.
	for _, tok := range []string{"abc", "-5"} {
		expectBrowseError(t, s, 10*time.Second, s.cfg, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Reports", Cursor: cursor(tok)}, "read cursor", invalid, 0)
	}
	if page := mustBrowse(t, "box", s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Reports", Cursor: cursor("1")}); len(page.Items) != 7 {
		t.Errorf("from offset 1 (past the folder): %d files", len(page.Items))
	}
}

// Box answers every refresh with a new refresh token and revokes the one
// used: a browse hands the new one back as Rotated, on a failure too, and
// the config it was given no longer works.
func TestBrowseBoxRotation(t *testing.T) {
	t.Parallel()
	s, d, cfg, _ := boxBrowse(t)
	d.SetRotation(providertest.RevokeUsedRefreshToken)
	first := cfg("type", "oauth", "refresh_token", boxRefresh)
	page := mustBrowse(t, "box", first, s.env, providers.BrowseRequest{Kind: providers.BrowseFolders})
	if len(page.Items) != 2 {
		t.Errorf("folders as the user: %+v", page.Items)
	}
	expectRotated(t, providers.Issued{Rotated: page.Rotated}, first, d.RefreshToken())
	rotated := page.Rotated

	// The spent refresh token is refused, without a secret in the error.
	_, be := browse(t, "box", first, s.env, providers.BrowseRequest{Kind: providers.BrowseFolders})
	if be == nil || !be.Refused {
		t.Fatalf("the spent refresh token: %+v", be)
	}
	assertNoSecretIn(t, "browse error", be.Message, append(s.secrets, d.RefreshToken()))

	// A failed listing after a good exchange still hands back the new
	// refresh token, which the next browse needs.
	page, be = browse(t, "box", rotated, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Nope"})
	if be == nil || !be.NotFound {
		t.Fatalf("a missing path: %+v", be)
	}
	expectRotated(t, providers.Issued{Rotated: page.Rotated}, rotated, d.RefreshToken())
	if _, be := browse(t, "box", rotated, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles}); be == nil || !be.Refused {
		t.Errorf("the refresh token spent by the failed browse still works: %+v", be)
	}
	page = mustBrowse(t, "box", page.Rotated, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles})
	if len(page.Items) != 2 || page.Rotated == nil {
		t.Errorf("with the stored rotation: %d files, Rotated %v", len(page.Items), page.Rotated != nil)
	}
}
