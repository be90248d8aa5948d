package providers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

// s3Browse is an S3-compatible provider browsing a double that holds the
// sample tree in bucket "tree" (under prefix, when set).
func s3Browse(t *testing.T, provider string, keyField, key, secretField, secret, typ, prefix string) (browseSetup, *providertest.S3) {
	d := providertest.NewS3(t, key, secret, nil)
	d.AddTree("tree", prefix, providertest.SampleTree())
	d.AddBucket("locked", "x")
	d.Deny("locked")
	cfg := func(secret string) providers.Config {
		c := providers.Config{"bucket": "tree", "endpoint_url": d.URL,
			"credentials": map[string]any{"type": typ, keyField: key, secretField: secret}}
		if prefix != "" {
			c["prefix"] = prefix
		}
		return c
	}
	return browseSetup{provider: provider, cfg: cfg(secret), wrong: cfg("wrong-" + secret), env: localEnv(nil),
		requests: &d.Requests, last: d.LastURL, pageParam: "max-keys", fileIsNoFolder: true,
		secrets: []string{secret, "wrong-" + secret}}, d
}

func TestBrowseS3(t *testing.T) {
	t.Parallel()
	s, d := s3Browse(t, "s3", "access_key_id", "AKIABROWSE", "secret_access_key", "s3-browse-secret-wJalrXUtnFEMI", "access_key", "")
	runBrowseSuite(t, s)

	// Folders are common prefixes, ids their keys; files are objects.
	page := mustBrowse(t, "s3", s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFolders, Path: "/Reports"})
	if len(page.Items) != 1 || page.Items[0].ID != "Reports/Mike's 2025/" || page.Items[0].Path != "/Reports/Mike's 2025" {
		t.Errorf("folders of /Reports: %+v", page.Items)
	}
	q := d.LastURL().Query()
	if q.Get("list-type") != "2" || q.Get("delimiter") != "/" || q.Get("prefix") != "Reports/" {
		t.Errorf("not a delimited ListObjectsV2 of the folder's prefix: %v", q)
	}
	page = mustBrowse(t, "s3", s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Reports/Mike's 2025"})
	if len(page.Items) != 1 || page.Items[0].ID != "Reports/Mike's 2025/q1.csv" {
		t.Errorf("files of a nested folder: %+v", page.Items)
	}
	// An empty folder is its marker object, which is not listed as a file.
	if page := mustBrowse(t, "s3", s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFiles, Path: "/Archive"}); len(page.Items) != 0 {
		t.Errorf("the marker of /Archive is listed: %+v", page.Items)
	}
	// One ListObjectsV2 per page when the page fills at once, more when
	// the other kind takes room: /Reports lists "Mike's 2025/" first.
	for _, tc := range []struct {
		kind     providers.BrowseKind
		path     string
		max      int
		requests int64
	}{{providers.BrowseFolders, "/", 2, 1}, {providers.BrowseFiles, "/Reports", 4, 2}, {providers.BrowseFiles, "/Reports", 8, 1}} {
		before := d.Requests.Load()
		mustBrowse(t, "s3", s.cfg, s.env, providers.BrowseRequest{Kind: tc.kind, Path: tc.path, MaxResults: tc.max})
		if got := d.Requests.Load() - before; got != tc.requests {
			t.Errorf("a page of %d %s of %s took %d requests, want %d", tc.max, tc.kind, tc.path, got, tc.requests)
		}
	}

	expectBrowseRefusals(t, s, []browseRefusal{
		{"unknown key", providers.Config{"bucket": "tree", "endpoint_url": d.URL, "credentials": map[string]any{"type": "access_key",
			"access_key_id": "AKIAOTHER", "secret_access_key": "s3-browse-secret-wJalrXUtnFEMI"}}, "/", "authenticate: the access key id is not known", refused, 1},
		{"wrong secret", s.wrong, "/Reports", "authenticate: the secret access key is wrong", refused, 1},
		{"bucket policy denies", providers.Config{"bucket": "locked", "endpoint_url": d.URL, "credentials": s.cfg["credentials"]},
			"/", "list bucket: access denied by bucket policy", refused, 1},
		{"missing bucket", providers.Config{"bucket": "no-such-bucket", "endpoint_url": d.URL, "credentials": s.cfg["credentials"]},
			"/", "list bucket: the bucket does not exist", notFound, 1},
		{"missing folder", s.cfg, "/Reports/Nope", "list bucket: the bucket holds no folder /Reports/Nope", notFound, 1},
		{"no bucket", providers.Config{"endpoint_url": d.URL, "credentials": s.cfg["credentials"]},
			"/", "list bucket: browsing lists a bucket's objects: set bucket in the configuration", noFlag, 0},
	})

	// A provider that hangs mid-listing: the deadline ends the call (minio's
	// list call carries no context of its own; the transport does).
	slow, sd := s3Browse(t, "s3", "access_key_id", "AKIASLOW", "secret_access_key", "s3-slow-secret-value", "access_key", "")
	sd.SetDelay(time.Minute)
	start := time.Now()
	be := expectBrowseError(t, slow, 200*time.Millisecond, slow.cfg, providers.BrowseRequest{Kind: providers.BrowseFiles}, "list bucket: the provider did not answer before the deadline", timedOut, 1)
	if elapsed := time.Since(start); elapsed > 3*time.Second || be == nil {
		t.Errorf("a hung provider held the browse for %v", elapsed)
	}
}

// The configured prefix is the browse root; paths are relative to it.
func TestBrowseS3UnderPrefix(t *testing.T) {
	t.Parallel()
	s, d := s3Browse(t, "s3", "access_key_id", "AKIAPREFIX", "secret_access_key", "s3-prefix-secret-value", "access_key", "teams/data/")
	d.AddBucket("tree", "outside.txt", "teams/other/x.txt", "teams/data/readme.txt", "teams/data/data.json")
	d.AddTree("tree", "teams/data/", providertest.SampleTree())
	for _, prefix := range []string{"teams/data/", "teams/data"} {
		s.cfg["prefix"] = prefix
		items, _ := walk(t, s, s.cfg, "/", providers.BrowseFiles, 1)
		expectListing(t, s, items, "/", providers.BrowseFiles)
		page := mustBrowse(t, "s3", s.cfg, s.env, providers.BrowseRequest{Kind: providers.BrowseFolders, Path: "/Reports"})
		if len(page.Items) != 1 || page.Items[0].ID != "teams/data/Reports/Mike's 2025/" || page.Items[0].Path != "/Reports/Mike's 2025" {
			t.Errorf("folders under prefix %q: %+v", prefix, page.Items)
		}
	}
}

// An IAM role is assumed for a short browse session, then lists.
func TestBrowseS3AssumeRole(t *testing.T) {
	t.Parallel()
	const role = "arn:aws:iam::123456789012:role/connvault-read"
	d := providertest.NewS3(t, "AKIAUNUSED", "unused-secret", nil)
	d.AddTree("tree", "", providertest.SampleTree())
	sts := providertest.NewSTS(t, "AKIASERVER", "server-own-secret", role, "ext-42", d)
	env := localEnv(map[string]string{"s3.sts_url": sts.URL})
	env.AWS = providers.AWSCredentials{AccessKeyID: "AKIASERVER", SecretAccessKey: connvault.Secret("server-own-secret")}
	cfg := func(externalID string) providers.Config {
		return providers.Config{"bucket": "tree", "endpoint_url": d.URL,
			"credentials": map[string]any{"type": "iam_role", "role_arn": role, "external_id": externalID}}
	}
	before := sts.TokenExchanges.Load()
	page := mustBrowse(t, "s3", cfg("ext-42"), env, providers.BrowseRequest{Kind: providers.BrowseFolders})
	if len(page.Items) != 2 || sts.TokenExchanges.Load()-before != 1 {
		t.Errorf("folders as the role: %+v after %d AssumeRole calls", page.Items, sts.TokenExchanges.Load()-before)
	}
	if q := sts.LastURL(); q == nil {
		t.Fatal("STS was not called")
	}
	_, be := browse(t, "s3", cfg("ext-99"), env, providers.BrowseRequest{Kind: providers.BrowseFolders})
	if be == nil || !be.Refused || !strings.Contains(be.Message, "assume role: the role's trust policy") {
		t.Errorf("a role that may not be assumed: %+v", be)
	}
	assertNoSecretIn(t, "browse error", be.Message, []string{"server-own-secret"})
}

// Tigris and Backblaze browse through the same S3 protocol.
func TestBrowseS3Compatible(t *testing.T) {
	t.Parallel()
	t.Run("tigris", func(t *testing.T) {
		t.Parallel()
		s, _ := s3Browse(t, "tigris", "access_key_id", "tid_browse", "secret_access_key", "tigris-browse-secret", "access_key", "")
		runBrowseSuite(t, s)
	})
	t.Run("backblaze", func(t *testing.T) {
		t.Parallel()
		s, _ := s3Browse(t, "backblaze", "key_id", "0041234567890", "application_key", "b2-browse-application-key", "application_key", "")
		runBrowseSuite(t, s)
		noEndpoint := providers.Config{"bucket": "tree", "credentials": s.cfg["credentials"]}
		expectBrowseRefusals(t, s, []browseRefusal{{"no endpoint", noEndpoint, "/", "resolve endpoint: set endpoint_url or region", noFlag, 0}})
	})
}
