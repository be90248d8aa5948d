package providers_test

import (
	"testing"

	"github.com/connvault/connvault/providers"
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
