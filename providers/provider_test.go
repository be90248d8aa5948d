package providers_test

import (
	"testing"

	"github.com/connvault/connvault/providers"
)

// Every check starts from its typed config: a config that does not decode
// into it fails at "read configuration" before anything is sent (the zero
// Env has no client, so a request would panic).
func TestChecksStartFromTheirTypedConfig(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"s3", "tigris", "backblaze", "google_drive", "sharepoint", "box", "snowflake",
		"postgresql", "rss", "http_api", "instagram", "tiktok", "brightdata"} {
		res := rawCheck(t, typ, providers.Config{"credentials": "not an object"}, providers.Env{})
		expectResult(t, res, false, "the configuration cannot be read")
		if len(res.Steps) != 1 || res.Steps[0].Name != "read configuration" {
			t.Errorf("%s: steps %+v, want only read configuration", typ, res.Steps)
		}
	}
}
