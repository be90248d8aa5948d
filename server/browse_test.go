package server_test

import (
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/gen/client"
	"github.com/connvault/connvault/providers/providertest"
)

// Browsing an S3 connection lists the double's tree through ListObjectsV2
// (prefixes are folders), pages with the cursor, counts as a use; a
// refusal counts as a failure; a provider without folders is a 409.
func TestBrowse(t *testing.T) {
	t.Parallel()
	d := providertest.NewS3(t, "AKIABROWSE", "browse-secret", map[string][]string{"tree": {}})
	d.AddTree("tree", "", providertest.SampleTree())
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Against(d, "browsed", "tree", "browse-secret"))
	base := connPath(c.ConnectionId)

	folders := decodeAnswer[client.BrowseList](t, h.Call(t, "GET", base+"/folders", nil), "folders")
	var names []string
	for _, f := range folders.Results {
		names = append(names, f.Name)
		if f.MimeType == "" {
			t.Errorf("folder %s without mime_type", f.Name)
		}
	}
	if folders.ParentPath != "/" || len(names) != 2 || names[0] != "Archive" || names[1] != "Reports" {
		t.Fatalf("root folders: %v (%s)", names, folders.ParentPath)
	}
	// Files of /Reports two at a time, each once, to the end.
	seen := map[string]bool{}
	cursor := ""
	for range 10 {
		p := base + "/files?path=/Reports&max_results=2"
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		page := decodeAnswer[client.BrowseList](t, h.Call(t, "GET", p, nil), "files")
		for _, f := range page.Results {
			if seen[f.Path] {
				t.Fatalf("%s on two pages", f.Path)
			}
			seen[f.Path] = true
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if len(seen) != 7 {
		t.Errorf("files of /Reports: %d, want 7", len(seen))
	}
	if got := get(t, h, c.ConnectionId); got.LastUsedAt == nil {
		t.Error("a listing did not set last_used_at")
	}
	wantError(t, h.Call(t, "GET", base+"/files?path=/Nowhere", nil), 404, "NotFoundError")
	wantFieldError(t, h.Call(t, "GET", base+"/files?cursor=not-one-of-ours", nil), "query")
	wantFieldError(t, h.Call(t, "GET", base+"/files?max_results=0", nil), "query", "max_results")
	wantFieldError(t, h.Call(t, "GET", base+"/folders?max_results=1001", nil), "query", "max_results")
	wantError(t, h.Call(t, "GET", base+"/folders?path=/Nowhere", nil), 404, "NotFoundError")

	// The provider refuses: 502, and it counts as a failure.
	d.SetFailing(true)
	wantError(t, h.Call(t, "GET", base+"/folders", nil), 502, "ProviderError")
	if got := get(t, h, c.ConnectionId); got.ConsecutiveFailures != 1 || got.LastError == nil {
		t.Errorf("a refused listing: %d failures, last_error %v", got.ConsecutiveFailures, got.LastError)
	}
	wantError(t, h.Call(t, "GET", base+"/files", nil), 502, "ProviderError")
	d.SetFailing(false)

	feed := create(t, h, map[string]any{"name": "no folders", "provider_type": "rss", "test_before_save": false,
		"provider_config": map[string]any{"feed_url": "https://feed.example.invalid/rss"}})
	e := wantError(t, h.Call(t, "GET", connPath(feed.ConnectionId)+"/folders", nil), 409, "ConflictError")
	if e.Message == "" {
		t.Error("409 without a message")
	}
	h.Call(t, "PATCH", connPath(c.ConnectionId), map[string]any{"status": "SUSPENDED"})
	wantError(t, h.Call(t, "GET", base+"/files", nil), 409, "ConflictError")
}

// A provider that does not answer in time: 504 on both listings.
func TestBrowseTimesOut(t *testing.T) {
	t.Parallel()
	d := providertest.NewS3(t, "AKIASLOWB", "slow-browse-secret", map[string][]string{"slow": {"a"}})
	h := connvaulttest.NewServer(t, connvaulttest.Options{CheckTimeout: 300 * time.Millisecond})
	body := s3Against(d, "slow browse", "slow", "slow-browse-secret")
	body["test_before_save"] = false
	c := create(t, h, body)
	d.SetDelay(2 * time.Second)
	wantError(t, h.Call(t, "GET", connPath(c.ConnectionId)+"/folders", nil), 504, "TimeoutError")
	wantError(t, h.Call(t, "GET", connPath(c.ConnectionId)+"/files", nil), 504, "TimeoutError")
}
