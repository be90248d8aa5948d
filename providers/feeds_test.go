package providers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

func TestRSSCheck(t *testing.T) {
	t.Parallel()
	const key = "feed-header-secret-value"
	d := providertest.NewFeed(t, "X-Api-Key", key)
	cfg := func(path, value string) providers.Config {
		return providers.Config{"feed_url": d.URL + path, "request_timeout": float64(5),
			"credentials": map[string]any{"type": "http_headers", "headers": map[string]any{"X-Api-Key": value}}}
	}
	for _, tc := range []struct {
		name, path, value, want string
		ok                      bool
	}{
		{"RSS 2.0", "/rss.xml", key, "RSS 2.0 feed with 2 items", true},
		{"Atom", "/atom.xml", key, "Atom feed with 1 items", true},
		{"RSS 1.0", "/rdf.xml", key, "RSS 1.0 feed with 1 items", true},
		{"HTML page", "/page.html", key, "feed is not RSS or Atom", false},
		{"missing feed", "/nope.xml", key, "not found", false},
		{"wrong header value", "/rss.xml", "wrong-header-value", "authentication refused", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, "rss", cfg(tc.path, tc.value), localEnv(nil))
			if res.Success != tc.ok || !strings.Contains(res.Message, tc.want) {
				t.Fatalf("got %+v, want %v %q", res, tc.ok, tc.want)
			}
			assertNoSecret(t, res, key, "wrong-header-value")
		})
	}
}

func TestHTTPAPICheck(t *testing.T) {
	t.Parallel()
	const token = "api-bearer-token-value"
	d := providertest.NewHTTPAPI(t, token)
	cfg := func(path, items, idField, tok string) providers.Config {
		return providers.Config{"base_url": d.URL + path, "items_path": items, "item_id_field": idField,
			"credentials": map[string]any{"type": "http_headers", "headers": map[string]any{"Authorization": "Bearer " + tok}}}
	}
	for _, tc := range []struct {
		name string
		cfg  providers.Config
		ok   bool
		want string
	}{
		{"finds items", cfg("/items", "data.items", "id", token), true, "found 2 items"},
		{"empty array passes", cfg("/empty", "data.items", "id", token), true, "no items yet"},
		{"wrong items_path", cfg("/items", "data.results", "id", token), false, "items_path data.results was not found"},
		{"items_path not an array", cfg("/items", "data", "id", token), false, "is not an array"},
		{"missing id field", cfg("/items", "data.items", "uuid", token), false, "items have no field uuid"},
		{"not JSON", cfg("/text", "data.items", "id", token), false, "not JSON"},
		{"wrong token echoed back", cfg("/items", "data.items", "id", "wrong-api-token-value"), false, "authentication refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, "http_api", tc.cfg, localEnv(nil))
			if res.Success != tc.ok || !strings.Contains(res.Message, tc.want) {
				t.Fatalf("got %+v, want %v %q", res, tc.ok, tc.want)
			}
			assertNoSecret(t, res, token, "wrong-api-token-value")
		})
	}
	post := cfg("/items", "data.items", "id", token)
	post["http_method"] = "POST"
	post["request_body"] = map[string]any{"page": 1}
	post["pagination"] = map[string]any{"type": "cursor", "cursor_path": "meta.next", "cursor_param": "after"}
	if res := run(t, "http_api", post, localEnv(nil)); !res.Success || res.Steps[len(res.Steps)-1].Name != "find cursor" {
		t.Errorf("POST with cursor: %+v", res)
	}
	post["pagination"] = map[string]any{"type": "cursor", "cursor_path": "meta.cursor"}
	if res := run(t, "http_api", post, localEnv(nil)); res.Success || !strings.Contains(res.Message, "cursor_path") {
		t.Errorf("missing cursor: %+v", res)
	}
}

// A provider answer larger than the limit is cut off, not read whole.
func TestResponseSizeIsBounded(t *testing.T) {
	t.Parallel()
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		_, _ = w.Write([]byte(`<?xml version="1.0"?><rss version="2.0"><channel>`))
		chunk := []byte(strings.Repeat("<item><title>x</title></item>", 1000))
		for range 200 { // about 6 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer big.Close()
	res := run(t, "rss", providers.Config{"feed_url": big.URL + "/feed.xml"}, localEnv(nil))
	if res.Success || !strings.Contains(res.Message, "larger than the 4 MiB limit") {
		t.Fatalf("got %+v", res)
	}
}
