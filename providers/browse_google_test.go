package providers_test

import (
	"strings"
	"testing"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

// googleBrowse is Google Drive browsing the Google double as a service
// account (or, with edit, as configured otherwise).
func googleBrowse(t *testing.T) (browseSetup, *providertest.Google, func(pemText string, edit map[string]any) providers.Config) {
	d, key, other := newGoogle(t)
	sa := func(pemText string, edit map[string]any) providers.Config {
		cfg := providers.Config{"credentials": map[string]any{"type": "service_account", "project_id": "proj",
			"private_key_id": "kid1", "private_key": pemText, "client_email": googleEmail, "client_id": "123"}}
		for k, v := range edit {
			cfg[k] = v
		}
		return cfg
	}
	secrets := append([]string{googleSecret, googleRefresh}, pemLines(key.PKCS8PEM)...)
	secrets = append(secrets, pemLines(other.PKCS8PEM)...)
	return browseSetup{provider: "google_drive", cfg: sa(key.PKCS8PEM, nil), wrong: sa(other.PKCS8PEM, nil),
		env: providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}, requests: &d.Requests, last: d.LastURL,
		pageParam: "pageSize", mimeTypes: true, fileIsNoFolder: true, secrets: secrets}, d, sa
}

func TestBrowseGoogleDrive(t *testing.T) {
	t.Parallel()
	s, d, sa := googleBrowse(t)
	runBrowseSuite(t, s)

	// Folders carry Drive's folder type and their Drive ids; a path is
	// resolved folder by folder: one files.list by name per segment.
	page := mustBrowse(t, "google_drive", s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFolders})
	if len(page.Items) != 2 || page.Items[1].ID != d.DriveID("/Reports", false) || page.Items[1].MimeType != "application/vnd.google-apps.folder" {
		t.Errorf("root folders: %+v", page.Items)
	}
	if q := d.LastURL().Query(); q.Get("q") != "'root' in parents and trashed = false and mimeType = 'application/vnd.google-apps.folder'" {
		t.Errorf("the folders query is %q", q.Get("q"))
	}
	before := d.Requests.Load()
	page = mustBrowse(t, "google_drive", s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Reports/Mike's 2025"})
	if got := d.Requests.Load() - before; got != 4 {
		t.Errorf("a browse two folders deep took %d requests, want 4 (token, two names, the listing)", got)
	}
	if len(page.Items) != 1 || page.Items[0].ID != d.DriveID("/Reports/Mike's 2025/q1.csv", false) {
		t.Errorf("files of a nested folder: %+v", page.Items)
	}
	if q := d.LastURL().Query(); q.Get("q") != "'"+d.DriveID("/Reports/Mike's 2025", false)+"' in parents and trashed = false and mimeType != 'application/vnd.google-apps.folder'" {
		t.Errorf("the files query is %q", q.Get("q"))
	}

	// folder_id is the browse root.
	reports := sa(s.cfg["credentials"].(map[string]any)["private_key"].(string), map[string]any{"folder_id": d.DriveID("/Reports", false)})
	rooted := s
	rooted.cfg = reports
	items, _ := walk(t, rooted, reports, "/", providers.BrowseFiles, 3)
	if len(items) != 7 || items[0].Path != "/r01.pdf" {
		t.Errorf("files under folder_id: %d, first %+v", len(items), items[0])
	}
	page = mustBrowse(t, "google_drive", reports, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Mike's 2025"})
	if len(page.Items) != 1 || page.Items[0].Path != "/Mike's 2025/q1.csv" {
		t.Errorf("a folder below folder_id: %+v", page.Items)
	}

	expectBrowseRefusals(t, s, []browseRefusal{
		{"missing root folder", sa(reports["credentials"].(map[string]any)["private_key"].(string), map[string]any{"folder_id": "missing-folder"}),
			"/", "list folder: the folder was not found", notFound, 2},
		{"missing shared drive", sa(reports["credentials"].(map[string]any)["private_key"].(string), map[string]any{"shared_drive_id": "missing-drive"}),
			"/Reports", "resolve path: the shared drive was not found", notFound, 2},
		{"a file is no folder", s.cfg, "/Reports/r01.pdf", "resolve path: no folder /Reports/r01.pdf in the folder", notFound, 3},
		{"garbage private key", sa("not a key", nil), "/", "read credentials: private_key is not a PEM RSA key", refused, 0},
		{"no credentials type", providers.Config{"credentials": map[string]any{"type": "api_key"}}, "/", "read credentials: credentials.type must be service_account or oauth", refused, 0},
		{"signed by another key", s.wrong, "/", "authenticate: authentication refused by the provider (HTTP 400 Bad Request (invalid_grant))", refused, 1},
		{"unreadable config", providers.Config{"credentials": "not an object"}, "/", "read configuration: the configuration cannot be read", noFlag, 0},
	})
}

// A shared drive is the root when set, listed with the parameters Drive
// needs to see inside it; its items are the shared drive's.
func TestBrowseGoogleSharedDrive(t *testing.T) {
	t.Parallel()
	s, d, sa := googleBrowse(t)
	pemText := s.cfg["credentials"].(map[string]any)["private_key"].(string)
	s.cfg = sa(pemText, map[string]any{"shared_drive_id": providertest.SharedDriveID})
	s.wrong["shared_drive_id"] = providertest.SharedDriveID
	runBrowseSuite(t, s)
	page := mustBrowse(t, "google_drive", s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Reports/Mike's 2025"})
	if len(page.Items) != 1 || page.Items[0].ID != d.DriveID("/Reports/Mike's 2025/q1.csv", true) {
		t.Errorf("files in the shared drive: %+v", page.Items)
	}
	q := d.LastURL().Query()
	if q.Get("corpora") != "drive" || q.Get("driveId") != providertest.SharedDriveID || q.Get("includeItemsFromAllDrives") != "true" || q.Get("supportsAllDrives") != "true" {
		t.Errorf("the shared drive is listed without its parameters: %v", q)
	}
	// A folder_id inside the shared drive wins as the root.
	s.cfg["folder_id"] = d.DriveID("/Reports", true)
	page = mustBrowse(t, "google_drive", s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFolders})
	if len(page.Items) != 1 || page.Items[0].ID != d.DriveID("/Reports/Mike's 2025", true) {
		t.Errorf("folders under a shared drive's folder_id: %+v", page.Items)
	}
}

// A user's refresh token: should Google answer a new one, it comes back
// as Rotated, on a failed browse too.
func TestBrowseGoogleDriveOAuth(t *testing.T) {
	t.Parallel()
	d, _, _ := newGoogle(t)
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	cfg := providers.Config{"credentials": map[string]any{"type": "oauth", "client_id": "client-1.apps.googleusercontent.com",
		"client_secret": googleSecret, "refresh_token": googleRefresh}}
	page := mustBrowse(t, "google_drive", cfg, env, providers.BrowseRequest{Kind: providers.BrowseFolders})
	if len(page.Items) != 2 || page.Rotated != nil {
		t.Errorf("as the user: %d folders, Rotated %v", len(page.Items), page.Rotated != nil)
	}
	d.SetRotation(providertest.RotateRefreshToken)
	page = mustBrowse(t, "google_drive", cfg, env, providers.BrowseRequest{Kind: providers.BrowseFolders})
	expectRotated(t, providers.Issued{Rotated: page.Rotated}, cfg, d.RefreshToken())
	page, be := browse(t, "google_drive", cfg, env, providers.BrowseRequest{Kind: providers.BrowseFolders, Path: "/Nope"})
	if be == nil || !be.NotFound {
		t.Fatalf("a missing path: %+v", be)
	}
	expectRotated(t, providers.Issued{Rotated: page.Rotated}, cfg, d.RefreshToken())
	if strings.Contains(be.Message, googleRefresh) {
		t.Errorf("the error shows the refresh token")
	}
}
