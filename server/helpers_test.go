package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/gen/client"
)

const connectionsPath = "/v1/organizations/connections"

// s3Create is a valid create body for an S3 connection that is not tested
// before saving (its endpoint is under .invalid and never dialed).
func s3Create(name string) map[string]any {
	return map[string]any{
		"name":          name,
		"provider_type": "s3",
		"provider_config": map[string]any{
			"bucket":       "my-bucket",
			"region":       "us-east-1",
			"endpoint_url": "https://s3.example.invalid",
			"credentials": map[string]any{
				"type":              "access_key",
				"access_key_id":     "AKIAEXAMPLE",
				"secret_access_key": "s3-secret-" + name,
			},
		},
		"test_before_save": false,
	}
}

func connPath(identifier string) string {
	return connectionsPath + "/" + url.PathEscape(identifier)
}

// create makes a connection and returns it as the generated client reads it.
func create(t testing.TB, h *connvaulttest.Harness, body map[string]any) client.StorageConnectionModel {
	t.Helper()
	return model(t, h.Call(t, "POST", connectionsPath, body))
}

// wantError asserts an answer in the error envelope with status and type,
// decoded into the generated client's type, and returns its error body.
func wantError(t *testing.T, r connvaulttest.Response, status int, typ string) client.ErrorBody {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d: %s", r.Status, status, r.Body)
	}
	var env client.ErrorResponse
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.Success || env.Status != status {
		t.Fatalf("not the error envelope (%v): %s", err, r.Body)
	}
	if string(env.Error.Type) != typ || env.Error.Message == "" {
		t.Fatalf("error type = %v, want %s: %s", env.Error.Type, typ, r.Body)
	}
	return env.Error
}

// validationItems returns the broken rules of a 422.
func validationItems(e client.ErrorBody) []client.ValidationErrorItem {
	if e.Details == nil || e.Details.ValidationErrors == nil {
		return nil
	}
	return *e.Details.ValidationErrors
}

// wantFieldError asserts a 422 whose validation_errors name location.
func wantFieldError(t *testing.T, r connvaulttest.Response, location ...string) {
	t.Helper()
	want := strings.Join(location, ".")
	var got []string
	for _, item := range validationItems(wantError(t, r, 422, "ValidationError")) {
		got = append(got, strings.Join(item.Location, "."))
		if got[len(got)-1] == want {
			return
		}
	}
	t.Fatalf("no validation error at %s; got %v: %s", want, got, r.Body)
}

// model decodes a connection answer into the generated client's type,
// refusing fields the spec does not declare.
func model(t testing.TB, r connvaulttest.Response) client.StorageConnectionModel {
	t.Helper()
	return decodeAnswer[client.StorageConnectionModel](t, r, "a connection")
}

// decodeAnswer decodes a 200 answer into a generated type, refusing
// fields the type does not declare, so a shape change fails loudly.
func decodeAnswer[T any](t testing.TB, r connvaulttest.Response, what string) T {
	t.Helper()
	var v T
	if r.Status != 200 {
		t.Fatalf("want %s, got status %d: %s", what, r.Status, r.Body)
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not %s (%v): %s", what, err, r.Body)
	}
	return v
}

// testResult decodes a POST .../test answer into the generated client's type.
func testResult(t testing.TB, r connvaulttest.Response) client.ConnectionTestResult {
	t.Helper()
	return decodeAnswer[client.ConnectionTestResult](t, r, "a test result")
}

// listPage decodes a list answer into the generated client's type.
func listPage(t testing.TB, r connvaulttest.Response) client.ConnectionList {
	t.Helper()
	return decodeAnswer[client.ConnectionList](t, r, "a list page")
}

// get reads a connection by id or name.
func get(t testing.TB, h *connvaulttest.Harness, identifier string) client.StorageConnectionModel {
	t.Helper()
	return model(t, h.Call(t, "GET", connPath(identifier), nil))
}

// strOf reads an optional string, "" for null.
func strOf(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// apiRequest is one request a client would send.
type apiRequest struct {
	method, path string
	body         any
}

// everyOperation is one request to every API operation of the spec, the
// identifier ones on id.
func everyOperation(id string) []apiRequest {
	return []apiRequest{
		{"POST", connectionsPath, s3Create("every operation")},
		{"GET", connectionsPath, nil},
		{"POST", connectionsPath + "/list", map[string]any{}},
		{"GET", connPath(id), nil},
		{"PATCH", connPath(id), map[string]any{"name": "renamed"}},
		{"DELETE", connPath(id), nil},
		{"POST", connPath(id) + "/test", nil},
		{"POST", connPath(id) + "/credentials", nil},
		{"POST", connPath(id) + "/usage", map[string]any{"success": true, "operation": "sync"}},
		{"GET", connPath(id) + "/events", nil},
		{"GET", connPath(id) + "/folders", nil},
		{"GET", connPath(id) + "/files", nil},
		{"GET", "/v1/organizations/events", nil},
		{"POST", "/v1/organizations/api-keys", map[string]any{"name": "k"}},
		{"GET", "/v1/organizations/api-keys", nil},
		{"DELETE", "/v1/organizations/api-keys/key_aaaaaaaaaaaaaaa", nil},
	}
}

// refuseEvents makes Postgres refuse the audit events for which cond (SQL
// over NEW) holds, as a failing disk or a broken constraint would, until
// allow is called or the test ends. Other tests' events pass.
func refuseEvents(t *testing.T, cond string) (allow func()) {
	t.Helper()
	pool := connvaulttest.Pool(t)
	name := fmt.Sprintf("refuse_events_%d", refusals.Add(1)) + "_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := pool.Exec(context.Background(), fmt.Sprintf(`CREATE FUNCTION %[1]s() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF %[2]s THEN RAISE EXCEPTION 'audit event refused by the test'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER %[1]s BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION %[1]s();`, name, cond)); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	allow = func() {
		once.Do(func() {
			if _, err := pool.Exec(context.Background(), fmt.Sprintf(`DROP TRIGGER %[1]s ON events; DROP FUNCTION %[1]s()`, name)); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(allow)
	return allow
}

var refusals atomic.Int64
