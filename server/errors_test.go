package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/store"
)

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	revoked := connvaulttest.NewTenant(t, h.Store)
	if err := h.Store.RevokeAPIKey(context.Background(), revoked.APIKey, nil); err != nil {
		t.Fatal(err)
	}
	for name, auth := range map[string]string{
		"missing":         "",
		"not bearer":      "Basic " + h.Tenant.APIKey,
		"malformed":       "Bearer not-a-key",
		"empty bearer":    "Bearer ",
		"unknown key":     "Bearer sk_thiskeywasnevercreated0000000000000000",
		"revoked key":     "Bearer " + revoked.APIKey,
		"key with spaces": "Bearer sk_abc def",
	} {
		t.Run(name, func(t *testing.T) {
			for _, req := range everyOperation("x") {
				wantError(t, h.CallAs(t, auth, req.method, req.path, req.body), 401, "UnauthorizedError")
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	for _, ident := range []string{"conn_doesnotexist0000", "no such name", "conn_aaaaaaaaaaaaaaa"} {
		wantError(t, h.Call(t, "POST", connPath(ident)+"/credentials", nil), 404, "NotFoundError")
		wantError(t, h.Call(t, "GET", connPath(ident)+"/folders", nil), 404, "NotFoundError")
		wantError(t, h.Call(t, "GET", connPath(ident)+"/files", nil), 404, "NotFoundError")
		wantError(t, h.Call(t, "GET", connPath(ident), nil), 404, "NotFoundError")
		wantError(t, h.Call(t, "PATCH", connPath(ident), map[string]any{"name": "x"}), 404, "NotFoundError")
		wantError(t, h.Call(t, "DELETE", connPath(ident), nil), 404, "NotFoundError")
		wantError(t, h.Call(t, "POST", connPath(ident)+"/test", nil), 404, "NotFoundError")
	}
}

func TestDuplicateNameConflicts(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	create(t, h, s3Create("unique"))
	e := wantError(t, h.Call(t, "POST", connectionsPath, s3Create("unique")), 409, "AlreadyExistsError")
	if !strings.Contains(e.Message, "already exists") {
		t.Errorf("message = %v", e.Message)
	}
}

func TestConcurrentCreatesOfOneNameGiveOneSuccess(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			statuses <- h.Call(t, "POST", connectionsPath, s3Create("raced")).Status
		})
	}
	close(start)
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[200] != 1 || counts[409] != n-1 {
		t.Errorf("statuses = %v, want one 200 and %d 409s", counts, n-1)
	}
}

func TestValidationErrorsNameTheField(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	with := func(mutate func(b map[string]any)) map[string]any {
		b := s3Create("valid name")
		mutate(b)
		return b
	}
	cfg := func(b map[string]any) map[string]any { return b["provider_config"].(map[string]any) }
	creds := func(b map[string]any) map[string]any { return cfg(b)["credentials"].(map[string]any) }
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field []string
	}{
		{"missing name", with(func(b map[string]any) { delete(b, "name") }), []string{"body", "name"}},
		{"empty name", with(func(b map[string]any) { b["name"] = "" }), []string{"body", "name"}},
		{"blank name", with(func(b map[string]any) { b["name"] = "   " }), []string{"body", "name"}},
		{"name of 101 characters", with(func(b map[string]any) { b["name"] = strings.Repeat("n", 101) }), []string{"body", "name"}},
		{"name starting with conn_", with(func(b map[string]any) { b["name"] = "conn_lookslikeanid" }), []string{"body", "name"}},
		{"name list (the list route)", with(func(b map[string]any) { b["name"] = "list" }), []string{"body", "name"}},
		{"description of 501 characters", with(func(b map[string]any) { b["description"] = strings.Repeat("d", 501) }), []string{"body", "description"}},
		{"metadata not an object", with(func(b map[string]any) { b["metadata"] = []any{1} }), []string{"body", "metadata"}},
		{"test_before_save not a boolean", with(func(b map[string]any) { b["test_before_save"] = "yes" }), []string{"body", "test_before_save"}},
		{"unknown provider_type", with(func(b map[string]any) { b["provider_type"] = "dropbox" }), []string{"body", "provider_type"}},
		{"missing provider_type", with(func(b map[string]any) { delete(b, "provider_type") }), []string{"body", "provider_type"}},
		{"missing provider_config", with(func(b map[string]any) { delete(b, "provider_config") }), []string{"body", "provider_config"}},
		{"unknown top-level field", with(func(b map[string]any) { b["nmae"] = "typo" }), []string{"body", "nmae"}},
		{"read-only field", with(func(b map[string]any) { b["status"] = "ACTIVE" }), []string{"body", "status"}},
		{"unknown config field", with(func(b map[string]any) { cfg(b)["buckit"] = "typo" }), []string{"body", "provider_config", "buckit"}},
		{"missing credentials", with(func(b map[string]any) { delete(cfg(b), "credentials") }), []string{"body", "provider_config", "credentials"}},
		{"bad endpoint_url", with(func(b map[string]any) { cfg(b)["endpoint_url"] = "not a url" }), []string{"body", "provider_config", "endpoint_url"}},
		{"unknown credentials type", with(func(b map[string]any) { creds(b)["type"] = "password" }), []string{"body", "provider_config", "credentials", "type"}},
		// type may be left out; then the kind the fields come closest to speaks.
		{"credentials without type or secret", with(func(b map[string]any) { delete(creds(b), "type"); delete(creds(b), "secret_access_key") }), []string{"body", "provider_config", "credentials", "secret_access_key"}},
		{"missing secret", with(func(b map[string]any) { delete(creds(b), "secret_access_key") }), []string{"body", "provider_config", "credentials", "secret_access_key"}},
		{"field of another variant", with(func(b map[string]any) { creds(b)["role_arn"] = "arn:aws:iam::1:role/x" }), []string{"body", "provider_config", "credentials", "role_arn"}},
		{"postgresql port out of range", map[string]any{"name": "pg", "provider_type": "postgresql", "test_before_save": false, "provider_config": map[string]any{
			"host": "db.example.invalid", "database": "d", "port": 70000,
			"credentials": map[string]any{"type": "username_password", "username": "u", "password": "p"}}}, []string{"body", "provider_config", "port"}},
		{"postgresql missing username", map[string]any{"name": "pg", "provider_type": "postgresql", "test_before_save": false, "provider_config": map[string]any{
			"host": "db.example.invalid", "database": "d",
			"credentials": map[string]any{"type": "username_password", "password": "p"}}}, []string{"body", "provider_config", "credentials", "username"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.Call(t, "POST", connectionsPath, tc.body)
			wantFieldError(t, r, tc.field...)
		})
	}
	// A well-formed cursor whose time Postgres cannot hold (micros -2^62,
	// long before 4713 BC) is as foreign as garbage.
	forged := "cursor=" + store.Cursor{CreatedAt: time.UnixMicro(-1 << 62), ID: "conn_aaaaaaaaaaaaaaa"}.Encode()
	for _, q := range []string{"limit=0", "limit=1001", "offset=-1", "limit=abc", "status=BROKEN", "provider_type=ftp", "cursor=garbage", forged} {
		t.Run("list "+q, func(t *testing.T) {
			wantError(t, h.Call(t, "GET", connectionsPath+"?"+q, nil), 422, "ValidationError")
		})
	}
	t.Run("list body unknown field", func(t *testing.T) {
		wantFieldError(t, h.Call(t, "POST", connectionsPath+"/list", map[string]any{"provider": "s3"}), "body", "provider")
	})
}

func TestUnknownDiscriminatorValuesListTheAcceptedOnes(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	body := s3Create("typo")
	body["provider_type"] = "dropbox"
	e := wantError(t, h.Call(t, "POST", connectionsPath, body), 422, "ValidationError")
	if msg := e.Message; !strings.Contains(msg, "provider_type must be one of: backblaze, box, brightdata") || strings.Contains(msg, "dropbox") {
		t.Errorf("message = %q", msg)
	}
	body = s3Create("typo")
	body["provider_config"].(map[string]any)["credentials"].(map[string]any)["type"] = "acess_key"
	e = wantError(t, h.Call(t, "POST", connectionsPath, body), 422, "ValidationError")
	if msg := e.Message; !strings.Contains(msg, "type must be one of: access_key, iam_role") {
		t.Errorf("message = %q", msg)
	}
}

func TestErrorsNeverQuoteSubmittedValues(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	body := s3Create("quoted")
	creds := body["provider_config"].(map[string]any)["credentials"].(map[string]any)
	creds["secret_access_key"] = 12345.678 // wrong type: the validator must not echo it
	creds["access_key_id"] = "LEAKYVALUE-should-not-appear"
	body["provider_config"].(map[string]any)["bucket"] = "x"
	r := h.Call(t, "POST", connectionsPath, body)
	wantError(t, r, 422, "ValidationError")
	for _, v := range []string{"12345", "LEAKYVALUE"} {
		if strings.Contains(string(r.Body), v) {
			t.Errorf("error quotes the submitted value %q: %s", v, r.Body)
		}
	}
}

func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	auth := "Bearer " + h.Tenant.APIKey
	wantError(t, h.Call(t, "POST", connectionsPath, `{"name": "x",`), 400, "BadRequestError")
	wantError(t, h.Call(t, "POST", connectionsPath, `not json`), 400, "BadRequestError")
	wantError(t, h.Call(t, "PATCH", connPath("x"), `{"name"`), 400, "BadRequestError")
	wantError(t, h.Call(t, "POST", connPath("x")+"/usage", `{"success"`), 400, "BadRequestError")
	wantError(t, h.Call(t, "POST", "/v1/organizations/api-keys", `{"name"`), 400, "BadRequestError")
	wantError(t, h.Call(t, "POST", connectionsPath+"/list", `[1,2`), 400, "BadRequestError")
	wantError(t, h.CallAs(t, auth, "PUT", connectionsPath, nil), 405, "MethodNotAllowedError")
	if r := h.CallAs(t, auth, "PUT", connectionsPath, nil); r.Header.Get("Allow") == "" {
		t.Error("405 without an Allow header")
	}
	wantError(t, h.CallAs(t, auth, "GET", connectionsPath+"/list", nil), 405, "MethodNotAllowedError")
	wantError(t, h.CallAs(t, auth, "GET", "/v1/organizations/connectors", nil), 404, "NotFoundError")
	wantError(t, h.CallAs(t, "", "GET", "/no/such/route", nil), 404, "NotFoundError")
	wantError(t, h.CallAs(t, auth, "GET", connPath("x")+"/test", nil), 405, "MethodNotAllowedError")

	req, _ := http.NewRequest("POST", h.URL+connectionsPath, strings.NewReader("name=x"))
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Errorf("form body: status %d, want 415", resp.StatusCode)
	}
	big := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`
	if r := h.Call(t, "POST", connectionsPath, big); r.Status != 413 {
		t.Errorf("2 MiB body: status %d, want 413", r.Status)
	}
}

// When the database fails, every operation answers a bare 500 envelope.
func TestDatabaseFailureIsAnOpaque500(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{BrokenDatabase: true})
	for _, req := range everyOperation("x") {
		r := h.Call(t, req.method, req.path, req.body)
		e := wantError(t, r, 500, "InternalServerError")
		if e.Message != "internal error" {
			t.Errorf("%s %s: message %v", req.method, req.path, e.Message)
		}
	}
	if !strings.Contains(h.Logs(), "request failed") {
		t.Error("the failure is not logged for operators")
	}
}

func TestBodyLimitsAndMediaTypesOnEveryBodyOperation(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	id := create(t, h, s3Create("bodies")).ConnectionId
	big := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`
	for _, req := range [][2]string{{"POST", connectionsPath}, {"POST", connectionsPath + "/list"}, {"PATCH", connPath(id)},
		{"POST", connPath(id) + "/usage"}, {"POST", "/v1/organizations/api-keys"}} {
		if r := h.Call(t, req[0], req[1], big); r.Status != 413 {
			t.Errorf("%s %s with 2 MiB: %d", req[0], req[1], r.Status)
		} else {
			wantError(t, r, 413, "BadRequestError")
		}
		hr, _ := http.NewRequest(req[0], h.URL+req[1], strings.NewReader("<xml/>"))
		hr.Header.Set("Authorization", "Bearer "+h.Tenant.APIKey)
		hr.Header.Set("Content-Type", "application/xml")
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 415 {
			t.Errorf("%s %s with XML: %d, want 415", req[0], req[1], resp.StatusCode)
		}
	}
	wantFieldError(t, h.Call(t, "POST", connectionsPath+"/list", map[string]any{"status": "BROKEN"}), "body", "status")
}

// Media types are case-insensitive, and the input checks know it: text
// Postgres cannot store is 422 under "Application/JSON" too (it reached
// the database and answered 500). A body nesting deeper than anything the
// spec describes is 400 at once, whatever its depth (a megabyte of "["
// made the input check hold gigabytes).
func TestJSONBodiesWhateverTheirMediaTypeCaseOrDepth(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Create("media type case"))
	send := func(method, path, contentType, body string) connvaulttest.Response {
		t.Helper()
		req, _ := http.NewRequest(method, h.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.Tenant.APIKey)
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return connvaulttest.Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	}
	operations := [][2]string{{"POST", connectionsPath}, {"POST", connectionsPath + "/list"}, {"PATCH", connPath(c.ConnectionId)},
		{"POST", connPath(c.ConnectionId) + "/usage"}, {"POST", "/v1/organizations/api-keys"}}
	for _, req := range operations {
		for _, ct := range []string{"Application/JSON", "APPLICATION/JSON; charset=UTF-8"} {
			wantFieldError(t, send(req[0], req[1], ct, `{"name":"x\u0000"}`), "body", "name")
		}
		for _, deep := range []string{strings.Repeat("[", 1<<20-1), strings.Repeat(`{"a":`, 200000)} {
			start := time.Now()
			r := send(req[0], req[1], "application/json", deep)
			if e := wantError(t, r, 400, "BadRequestError"); !strings.Contains(e.Message, "64 levels deep") {
				t.Errorf("%s %s: a deep body refused as %q", req[0], req[1], e.Message)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%s %s: a deep body took %v to refuse", req[0], req[1], d)
			}
		}
	}
	if after := model(t, h.Call(t, "GET", connPath(c.ConnectionId), nil)); !after.UpdatedAt.Equal(c.UpdatedAt) {
		t.Errorf("a refused PATCH changed the connection")
	}
	for _, req := range operations {
		metadata := `{"metadata":` + strings.Repeat(`{"a":`, 10) + `1` + strings.Repeat("}", 10) + `}`
		if r := send(req[0], req[1], "application/json", metadata); r.Status == 400 && strings.Contains(string(r.Body), "levels deep") {
			t.Errorf("%s %s: ten levels of metadata refused as too deep: %s", req[0], req[1], r.Body)
		}
	}
}

// A revoked key stops working within the auth cache's TTL.
func TestRevocationIsHonouredWithinTheCacheTTL(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{AuthCacheTTL: 300 * time.Millisecond})
	if r := h.Call(t, "GET", connectionsPath, nil); r.Status != 200 {
		t.Fatalf("list: %d", r.Status)
	}
	if err := h.Store.RevokeAPIKey(context.Background(), h.Tenant.APIKey, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	wantError(t, h.Call(t, "GET", connectionsPath, nil), 401, "UnauthorizedError")
}

// Each API key has its own budget; past it every operation answers 429
// with Retry-After, and another key is unaffected.
func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{RateLimit: 0.5})
	other := connvaulttest.NewTenant(t, h.Store)
	for _, req := range everyOperation("x") {
		tn := connvaulttest.NewTenant(t, h.Store)
		first := h.CallAs(t, "Bearer "+tn.APIKey, req.method, req.path, req.body)
		if first.Status == 429 {
			t.Fatalf("%s %s: the first request was limited", req.method, req.path)
		}
		r := h.CallAs(t, "Bearer "+tn.APIKey, req.method, req.path, req.body)
		wantError(t, r, 429, "TooManyRequestsError")
		if r.Header.Get("Retry-After") != "2" {
			t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
		}
	}
	if r := h.CallAs(t, "Bearer "+other.APIKey, "GET", connectionsPath, nil); r.Status != 200 {
		t.Errorf("another key was limited too: %d", r.Status)
	}
}
