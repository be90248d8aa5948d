package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

// providerCase describes one provider end to end over HTTP: a valid config
// whose check passes against the provider's local double, the same config
// with wrong credentials, and configs the spec must refuse.
type providerCase struct {
	provider string
	valid    map[string]any
	// wrong returns valid with wrong credentials (its check fails).
	wrong   func(cfg map[string]any)
	secrets []string // secret values in valid
	invalid []invalidConfig
}

type invalidConfig struct {
	name   string
	mutate func(cfg map[string]any)
	field  []string // under body.provider_config
}

func creds(cfg map[string]any) map[string]any { return cfg["credentials"].(map[string]any) }

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func TestEveryProviderEndToEnd(t *testing.T) {
	t.Parallel()
	key := providertest.NewKeyPair(t)
	s3 := providertest.NewS3(t, "AKIAE2E", "e2e-s3-secret", map[string][]string{"e2e-bucket": {"a"}})
	google := providertest.NewGoogle(t, key, "sa@p.iam.gserviceaccount.com", "gcid", "e2e-google-secret", "e2e-google-refresh")
	sharepoint := providertest.NewSharePoint(t, "tenant", "spcid", "e2e-sp-secret", "e2e-sp-refresh")
	box := providertest.NewBox(t, "boxcid", "e2e-box-secret", "e2e-box-refresh", "42", "kid", key)
	snowflake := providertest.NewSnowflake(t, "acct1", "loader", "e2e-sf-password", key)
	instagram := providertest.NewInstagram(t, "e2e-ig-token", "")
	tiktok := providertest.NewTikTok(t, "e2e-tt-token")
	brightdata := providertest.NewBrightData(t, "e2e-bd-token")
	feed := providertest.NewFeed(t, "X-Feed-Key", "e2e-feed-key")
	api := providertest.NewHTTPAPI(t, "e2e-api-token")

	endpoints := map[string]string{}
	for _, m := range []map[string]string{google.Endpoints(), sharepoint.Endpoints(), box.Endpoints(), snowflake.Endpoints(),
		instagram.Endpoints(), tiktok.Endpoints(), brightdata.Endpoints(), {"tigris.endpoint_url": s3.URL}} {
		for k, v := range m {
			endpoints[k] = v
		}
	}
	h := connvaulttest.NewServer(t, connvaulttest.Options{Endpoints: endpoints})
	dbURL := connvaulttest.DatabaseURL(t)
	_ = dbURL

	cases := []providerCase{
		{provider: "s3",
			valid:   map[string]any{"bucket": "e2e-bucket", "endpoint_url": s3.URL, "credentials": map[string]any{"type": "access_key", "access_key_id": "AKIAE2E", "secret_access_key": "e2e-s3-secret"}},
			wrong:   func(c map[string]any) { creds(c)["secret_access_key"] = "nope-wrong" },
			secrets: []string{"e2e-s3-secret"},
			invalid: []invalidConfig{
				{"bucket too short", func(c map[string]any) { c["bucket"] = "ab" }, []string{"bucket"}},
				{"iam_role without role_arn", func(c map[string]any) { c["credentials"] = map[string]any{"type": "iam_role"} }, []string{"credentials", "role_arn"}},
				{"verify_ssl not boolean", func(c map[string]any) { c["verify_ssl"] = "no" }, []string{"verify_ssl"}},
			}},
		{provider: "tigris",
			valid:   map[string]any{"bucket": "e2e-bucket", "credentials": map[string]any{"type": "access_key", "access_key_id": "AKIAE2E", "secret_access_key": "e2e-s3-secret"}},
			wrong:   func(c map[string]any) { creds(c)["secret_access_key"] = "nope-wrong" },
			secrets: []string{"e2e-s3-secret"},
			invalid: []invalidConfig{{"iam_role is not a tigris variant", func(c map[string]any) {
				c["credentials"] = map[string]any{"type": "iam_role", "role_arn": "arn:aws:iam::1:role/abcdefgh"}
			}, []string{"credentials", "type"}}}},
		{provider: "backblaze",
			valid:   map[string]any{"bucket": "e2e-bucket", "endpoint_url": s3.URL, "credentials": map[string]any{"type": "application_key", "key_id": "AKIAE2E", "application_key": "e2e-s3-secret"}},
			wrong:   func(c map[string]any) { creds(c)["application_key"] = "nope-wrong" },
			secrets: []string{"e2e-s3-secret"},
			invalid: []invalidConfig{{"missing key_id", func(c map[string]any) { delete(creds(c), "key_id") }, []string{"credentials", "key_id"}}}},
		{provider: "postgresql",
			valid:   map[string]any{"host": "127.0.0.1", "port": 1, "database": "x", "credentials": map[string]any{"type": "username_password", "username": "u", "password": "e2e-pg-password"}},
			secrets: []string{"e2e-pg-password"},
			invalid: []invalidConfig{
				{"bad ssl_mode", func(c map[string]any) { c["ssl_mode"] = "sometimes" }, []string{"ssl_mode"}},
				{"missing host", func(c map[string]any) { delete(c, "host") }, []string{"host"}},
			}},
		{provider: "google_drive",
			valid: map[string]any{"shared_drive_id": "0AH", "credentials": map[string]any{"type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com",
				"private_key_id": "k", "private_key": key.PKCS8PEM}},
			wrong:   func(c map[string]any) { creds(c)["client_email"] = "other@p.iam.gserviceaccount.com" },
			secrets: []string{strings.Split(key.PKCS8PEM, "\n")[1]},
			invalid: []invalidConfig{
				{"oauth without refresh_token", func(c map[string]any) {
					c["credentials"] = map[string]any{"type": "oauth", "client_id": "x", "client_secret": "y"}
				}, []string{"credentials", "refresh_token"}},
				{"bad client_email", func(c map[string]any) { creds(c)["client_email"] = "not-an-email" }, []string{"credentials", "client_email"}},
			}},
		{provider: "sharepoint",
			valid:   map[string]any{"credentials": map[string]any{"type": "client_credentials", "tenant_id": "tenant", "client_id": "spcid", "client_secret": "e2e-sp-secret"}},
			wrong:   func(c map[string]any) { creds(c)["client_secret"] = "nope-wrong" },
			secrets: []string{"e2e-sp-secret"},
			invalid: []invalidConfig{{"missing tenant_id", func(c map[string]any) { delete(creds(c), "tenant_id") }, []string{"credentials", "tenant_id"}}}},
		{provider: "box",
			valid:   map[string]any{"credentials": map[string]any{"type": "oauth", "client_id": "boxcid", "client_secret": "e2e-box-secret", "refresh_token": "e2e-box-refresh"}},
			wrong:   func(c map[string]any) { creds(c)["refresh_token"] = "nope-wrong" },
			secrets: []string{"e2e-box-secret", "e2e-box-refresh"},
			invalid: []invalidConfig{
				{"jwt without enterprise_id", func(c map[string]any) {
					c["credentials"] = map[string]any{"type": "jwt", "client_id": "a", "client_secret": "b", "jwt_key_id": "c", "private_key": "d"}
				}, []string{"credentials", "enterprise_id"}},
				{"folder_id not numeric", func(c map[string]any) { c["folder_id"] = "abc" }, []string{"folder_id"}},
			}},
		{provider: "snowflake",
			valid:   map[string]any{"account": "acct1", "credentials": map[string]any{"type": "username_password", "username": "loader", "password": "e2e-sf-password"}},
			wrong:   func(c map[string]any) { creds(c)["password"] = "nope-wrong" },
			secrets: []string{"e2e-sf-password"},
			invalid: []invalidConfig{
				{"query_timeout_seconds below 30", func(c map[string]any) { c["query_timeout_seconds"] = 10 }, []string{"query_timeout_seconds"}},
				{"query_timeout_seconds above 3600", func(c map[string]any) { c["query_timeout_seconds"] = 3601 }, []string{"query_timeout_seconds"}},
				{"missing account", func(c map[string]any) { delete(c, "account") }, []string{"account"}},
			}},
		{provider: "instagram",
			valid:   map[string]any{"credentials": map[string]any{"type": "oauth", "client_id": "ig", "client_secret": "e2e-ig-secret", "access_token": "e2e-ig-token"}},
			wrong:   func(c map[string]any) { creds(c)["access_token"] = "nope-wrong" },
			secrets: []string{"e2e-ig-secret", "e2e-ig-token"},
			invalid: []invalidConfig{{"missing access_token", func(c map[string]any) { delete(creds(c), "access_token") }, []string{"credentials", "access_token"}}}},
		{provider: "tiktok",
			valid:   map[string]any{"credentials": map[string]any{"type": "oauth", "client_key": "tk", "client_secret": "e2e-tt-secret", "access_token": "e2e-tt-token", "refresh_token": "e2e-tt-refresh"}},
			wrong:   func(c map[string]any) { creds(c)["access_token"] = "nope-wrong" },
			secrets: []string{"e2e-tt-secret", "e2e-tt-token", "e2e-tt-refresh"},
			invalid: []invalidConfig{{"scopes not an array", func(c map[string]any) { c["scopes"] = "user.info.basic" }, []string{"scopes"}}}},
		{provider: "brightdata",
			valid:   map[string]any{"zone": "web_unlocker1", "credentials": map[string]any{"type": "api_token", "api_token": "e2e-bd-token"}},
			wrong:   func(c map[string]any) { creds(c)["api_token"] = "nope-wrong" },
			secrets: []string{"e2e-bd-token"},
			invalid: []invalidConfig{{"missing api_token", func(c map[string]any) { delete(creds(c), "api_token") }, []string{"credentials", "api_token"}}}},
		{provider: "rss",
			valid:   map[string]any{"feed_url": feed.URL + "/rss.xml", "request_timeout": 10, "credentials": map[string]any{"type": "http_headers", "headers": map[string]any{"X-Feed-Key": "e2e-feed-key"}}},
			wrong:   func(c map[string]any) { creds(c)["headers"] = map[string]any{"X-Feed-Key": "nope-wrong"} },
			secrets: []string{"e2e-feed-key"},
			invalid: []invalidConfig{
				{"request_timeout below 5", func(c map[string]any) { c["request_timeout"] = 1 }, []string{"request_timeout"}},
				{"request_timeout above 120", func(c map[string]any) { c["request_timeout"] = 121 }, []string{"request_timeout"}},
				{"feed_url not a URL", func(c map[string]any) { c["feed_url"] = "feed.xml" }, []string{"feed_url"}},
			}},
		{provider: "http_api",
			valid: map[string]any{"base_url": api.URL + "/items", "items_path": "data.items", "item_id_field": "id",
				"credentials": map[string]any{"type": "http_headers", "headers": map[string]any{"Authorization": "Bearer e2e-api-token"}}},
			wrong:   func(c map[string]any) { creds(c)["headers"] = map[string]any{"Authorization": "Bearer nope-wrong"} },
			secrets: []string{"e2e-api-token"},
			invalid: []invalidConfig{
				{"missing item_id_field", func(c map[string]any) { delete(c, "item_id_field") }, []string{"item_id_field"}},
				{"bad http_method", func(c map[string]any) { c["http_method"] = "DELETE" }, []string{"http_method"}},
				{"header value not a string", func(c map[string]any) { creds(c)["headers"] = map[string]any{"X": 1} }, []string{"credentials", "headers", "X"}},
			}},
	}
	for _, pc := range cases {
		t.Run(pc.provider, func(t *testing.T) {
			body := func(name string, cfg map[string]any, test bool) map[string]any {
				return map[string]any{"name": name, "provider_type": pc.provider, "provider_config": cfg, "test_before_save": test}
			}
			var answers []string
			// Valid: created after a passing check (postgresql is checked
			// against a closed port, so it is saved untested).
			testable := pc.wrong != nil
			r := h.Call(t, "POST", connectionsPath, body(pc.provider+" ok", clone(pc.valid), testable))
			if r.Status != 200 {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			answers = append(answers, string(r.Body))
			c := model(t, r)
			if len(c.SecretFields) == 0 {
				t.Errorf("no secret_fields reported")
			}
			var config map[string]any
			if err := json.Unmarshal(c.ProviderConfig, &config); err != nil {
				t.Fatal(err)
			}
			for _, f := range c.SecretFields {
				path := strings.Split(f.Field, ".")
				var node any = config
				for _, seg := range path {
					node = node.(map[string]any)[seg]
				}
				if node != "***REDACTED***" {
					t.Errorf("%v reads back as %v", path, node)
				}
			}
			id := c.ConnectionId
			if testable {
				tr := h.Call(t, "POST", connPath(id)+"/test", nil)
				answers = append(answers, string(tr.Body))
				if !testResult(t, tr).Success {
					t.Errorf("test against the double: %s", tr.Body)
				}
				wrong := clone(pc.valid)
				pc.wrong(wrong)
				rr := h.Call(t, "POST", connectionsPath, body(pc.provider+" wrong", wrong, true))
				answers = append(answers, string(rr.Body))
				wantFieldError(t, rr, "body", "provider_config")
				// Saved untested, its test reports the failure as a 200.
				rw := h.Call(t, "POST", connectionsPath, body(pc.provider+" wrong", wrong, false))
				wt := h.Call(t, "POST", connPath(model(t, rw).ConnectionId)+"/test", nil)
				answers = append(answers, string(wt.Body))
				if wt.Status != 200 || testResult(t, wt).Success || testResult(t, wt).Message == "" {
					t.Errorf("test with wrong credentials: %d %s", wt.Status, wt.Body)
				}
			}
			answers = append(answers, string(h.Call(t, "GET", connPath(id), nil).Body))
			for _, inv := range pc.invalid {
				cfg := clone(pc.valid)
				inv.mutate(cfg)
				wantFieldError(t, h.Call(t, "POST", connectionsPath, body(pc.provider+" "+inv.name, cfg, false)), append([]string{"body", "provider_config"}, inv.field...)...)
				// PATCH validates the merged config against the same schema.
				if len(inv.field) == 1 {
					patch := map[string]any{}
					if v, ok := cfg[inv.field[0]]; ok {
						patch[inv.field[0]] = v
					} else {
						patch[inv.field[0]] = nil
					}
					wantFieldError(t, h.Call(t, "PATCH", connPath(id), map[string]any{"provider_config": patch, "test_before_save": false}),
						append([]string{"body", "provider_config"}, inv.field...)...)
				}
			}
			answers = append(answers, mixpeekLifecycle(t, h, pc.provider, pc.valid)...)
			for _, a := range answers {
				for _, s := range pc.secrets {
					if strings.Contains(a, s) {
						t.Errorf("an answer reveals a secret: %s", a)
					}
				}
			}
		})
	}
}

// mixpeekList is a list answer as Mixpeek's SDK parses it (strict models):
// total a required integer, page links strings or null.
type mixpeekList struct {
	Results    []map[string]any `json:"results"`
	Total      *int             `json:"total"`
	Pagination struct {
		Total        *int    `json:"total"`
		Page         *int    `json:"page"`
		PageSize     *int    `json:"page_size"`
		TotalPages   *int    `json:"total_pages"`
		NextPage     *string `json:"next_page"`
		PreviousPage *string `json:"previous_page"`
		NextCursor   *string `json:"next_cursor"`
	} `json:"pagination"`
}

// mixpeekLifecycle drives one provider the way a Mixpeek client does:
// provider_type restated inside the config, credentials without type,
// nulls for unset fields; create, get, list (one per page, with and
// without include_total), update, suspend and resume, test, browse and
// delete, each answer read in the shape the SDK parses. It returns the
// answers for the caller's secret scan.
func mixpeekLifecycle(t *testing.T, h *connvaulttest.Harness, provider string, valid map[string]any) []string {
	t.Helper()
	cfg := clone(valid)
	cfg["provider_type"] = provider
	cfg["description"] = nil
	kind := creds(cfg)["type"]
	delete(creds(cfg), "type")
	name := provider + " from a Mixpeek client"
	var answers []string
	call := func(method, path string, body any, want int) []byte {
		t.Helper()
		r := h.Call(t, method, path, body)
		answers = append(answers, string(r.Body))
		if r.Status != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, r.Status, want, r.Body)
		}
		return r.Body
	}
	created := model(t, h.Call(t, "POST", connectionsPath, map[string]any{"name": name, "provider_type": provider,
		"provider_config": cfg, "description": nil, "metadata": nil, "test_before_save": false}))
	var stored map[string]any
	if err := json.Unmarshal(created.ProviderConfig, &stored); err != nil || creds(stored)["type"] != kind {
		t.Errorf("stored credentials type = %v, want %v (%v)", creds(stored)["type"], kind, err)
	}
	id := created.ConnectionId
	call("GET", connPath(id), nil, 200)
	call("GET", connPath(name), nil, 200)
	for _, query := range []string{"?limit=1&provider_type=" + provider, "?limit=1&include_total=true&provider_type=" + provider} {
		var page mixpeekList
		if err := json.Unmarshal(call("GET", connectionsPath+query, nil, 200), &page); err != nil || page.Total == nil || *page.Total < 1 ||
			len(page.Results) != 1 || page.Pagination.Total == nil || *page.Pagination.Total != *page.Total {
			t.Errorf("list %s as the SDK reads it: %+v (%v)", query, page, err)
		}
	}
	patch := map[string]any{"provider_type": provider, "description": nil}
	call("PATCH", connPath(id), map[string]any{"description": "edited by the SDK", "metadata": map[string]any{"team": "data"},
		"provider_config": patch, "test_before_save": false}, 200)
	call("PATCH", connPath(id), map[string]any{"status": "SUSPENDED"}, 200)
	call("PATCH", connPath(id), map[string]any{"status": "ACTIVE"}, 200)
	tested := testResult(t, h.Call(t, "POST", connPath(id)+"/test", nil))
	if tested.Message == "" || tested.Details.Steps == nil {
		t.Errorf("test answer as the SDK reads it: %+v", tested)
	}
	if p, _ := providers.Lookup(provider); p.Browse != nil {
		r := h.Call(t, "GET", connPath(id)+"/folders?path=/", nil)
		answers = append(answers, string(r.Body))
		// Box revokes a refresh token once spent, and the end-to-end
		// connection above spent this one: its browse is refused (502).
		if r.Status != 200 && !(provider == "box" && r.Status == 502) {
			t.Errorf("browse folders: %d %s", r.Status, r.Body)
		}
	} else {
		wantError(t, h.Call(t, "GET", connPath(id)+"/folders", nil), 409, "ConflictError")
	}
	call("DELETE", connPath(id), nil, 200)
	return answers
}
