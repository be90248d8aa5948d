package providers_test

import (
	"testing"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

func httpAPIConfig(url, items, idField, token string) providers.Config {
	return providers.Config{"base_url": url, "items_path": items, "item_id_field": idField, "request_timeout": float64(5),
		"credentials": map[string]any{"type": "http_headers", "headers": map[string]any{"Authorization": "Bearer " + token}}}
}

func TestHTTPAPICheck(t *testing.T) {
	t.Parallel()
	const token, wrong = "api-bearer-token-value", "wrong-api-token-value"
	d := providertest.NewHTTPAPI(t, token)
	env := providers.Env{HTTP: d.Client()}
	cfg := func(path, items, idField string) providers.Config {
		return httpAPIConfig(d.URL+path, items, idField, token)
	}
	with := func(c providers.Config, k string, v any) providers.Config { c[k] = v; return c }
	runRawCases(t, "http_api", env, []string{token, wrong}, []rawCase{
		{"finds items", cfg("/items", "data.items", "id"), true, "found 2 items with field id"},
		{"root array", cfg("/list", "", "id"), true, "found 3 items"},
		{"empty array passes with a note", cfg("/empty", "data.items", "id"), true, "no items yet"},
		{"POST with a JSON body", with(with(cfg("/items", "data.items", "id"), "http_method", "POST"), "request_body", map[string]any{"page": 1}), true, "found 2 items"},
		{"wrong items_path", cfg("/items", "data.results", "id"), false, "items_path data.results was not found in the answer"},
		{"items_path not an array", cfg("/items", "data", "id"), false, "items_path data is not an array"},
		{"missing id field", cfg("/items", "data.items", "uuid"), false, "items have no field uuid"},
		{"not JSON", cfg("/text", "data.items", "id"), false, "the answer is not JSON (Content-Type text/plain)"},
		{"not found", cfg("/nope", "data.items", "id"), false, "the resource was not found (HTTP 404 Not Found)"},
		// The double's 401 body quotes the Authorization header it got.
		{"wrong token echoed back", httpAPIConfig(d.URL+"/items", "data.items", "id", wrong), false, "authentication refused by the provider (HTTP 401 Unauthorized)"},
		{"cursor found", with(cfg("/items", "data.items", "id"), "pagination", map[string]any{"type": "cursor", "cursor_path": "meta.next", "cursor_param": "after"}), true, "found 2 items"},
		{"cursor null on the last page", with(cfg("/items", "data.items", "id"), "pagination", map[string]any{"type": "cursor", "cursor_path": "meta.end"}), true, "found 2 items"},
		{"cursor_path missing", with(cfg("/items", "data.items", "id"), "pagination", map[string]any{"type": "cursor", "cursor_path": "meta.cursor"}), false, "pagination cursor_path meta.cursor was not found in the answer"},
		{"JSON Lines: one item per line", with(cfg("/lines", "", "id"), "response_content_type", "jsonl"), true, "found 2 items with field id"},
		{"JSON Lines with item_modified_field", with(with(cfg("/lines", "", "id"), "response_content_type", "jsonl"), "item_modified_field", "updated_at"), true, "found 2 items"},
		{"JSON Lines expected, one document sent", with(cfg("/items", "", "id"), "response_content_type", "jsonl"), false, "items have no field id"},
		{"JSON Lines answer read as one document", cfg("/lines", "", "id"), false, "the answer is not JSON (Content-Type application/x-ndjson)"},
		{"JSON Lines cannot carry a cursor", with(with(cfg("/lines", "", "id"), "response_content_type", "jsonl"), "pagination", map[string]any{"type": "cursor", "cursor_path": "meta.next"}), false, "a JSON Lines answer has no document"},
		{"item_modified_field missing", with(cfg("/items", "data.items", "id"), "item_modified_field", "updated_at"), false, "items have no item_modified_field updated_at"},
		{"the configured user_agent is sent", with(cfg("/agent", "", "id"), "user_agent", "sync-bot/2.0"), true, "found 1 items"},
		{"the default user agent is refused by that API", cfg("/agent", "", "id"), false, "HTTP 403"},
		{"no base_url: the fetch is skipped, saying what to add", providers.Config{"item_id_field": "id"}, true, "no base_url configured: set base_url"},
		{"base_url not http", httpAPIConfig("file:///etc/passwd", "", "id", token), false, "base_url must be an absolute http or https URL"},
	})
}

// The first page is asked for the way a sync will ask for it.
func TestHTTPAPICheckPageParams(t *testing.T) {
	t.Parallel()
	d := providertest.NewHTTPAPI(t, "tok")
	env := providers.Env{HTTP: d.Client()}
	cfg := httpAPIConfig(d.URL+"/items?lang=en", "data.items", "id", "tok")
	cfg["pagination"] = map[string]any{"type": "page", "page_param": "page", "size_param": "per_page", "page_size": float64(100)}
	expectResult(t, rawCheck(t, "http_api", cfg, env), true, "found 2 items")
	q := d.LastQuery()
	if q.Get("page") != "1" || q.Get("per_page") != "100" || q.Get("lang") != "en" {
		t.Errorf("first page query = %v", q)
	}
	cfg["pagination"] = map[string]any{"type": "offset", "page_param": "offset", "size_param": "limit", "page_size": float64(50)}
	expectResult(t, rawCheck(t, "http_api", cfg, env), true, "found 2 items")
	if q := d.LastQuery(); q.Get("offset") != "0" || q.Get("limit") != "50" {
		t.Errorf("first offset page query = %v", q)
	}
	if n := d.Requests.Load(); n != 2 {
		t.Errorf("double got %d requests, want one per check", n)
	}
}
