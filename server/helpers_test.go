package server_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/connvault/connvault/connvaulttest"
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

// create makes a connection and returns its JSON model.
func create(t testing.TB, h *connvaulttest.Harness, body map[string]any) map[string]any {
	t.Helper()
	r := h.Call(t, "POST", connectionsPath, body)
	if r.Status != 200 {
		t.Fatalf("create: status %d: %s", r.Status, r.Body)
	}
	return r.JSON(t)
}

// wantError asserts an answer in the error envelope with status and type.
func wantError(t *testing.T, r connvaulttest.Response, status int, typ string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d: %s", r.Status, status, r.Body)
	}
	m := r.JSON(t)
	if m["success"] != false || m["status"] != float64(status) {
		t.Fatalf("not the error envelope: %s", r.Body)
	}
	e, _ := m["error"].(map[string]any)
	if e == nil || e["type"] != typ || e["message"] == "" {
		t.Fatalf("error type = %v, want %s: %s", e["type"], typ, r.Body)
	}
	return e
}

// wantFieldError asserts a 422 whose validation_errors name location.
func wantFieldError(t *testing.T, r connvaulttest.Response, location ...string) {
	t.Helper()
	e := wantError(t, r, 422, "ValidationError")
	details, _ := e["details"].(map[string]any)
	items, _ := details["validation_errors"].([]any)
	want := strings.Join(location, ".")
	var got []string
	for _, it := range items {
		m := it.(map[string]any)
		var parts []string
		for _, p := range m["location"].([]any) {
			parts = append(parts, fmt.Sprint(p))
		}
		got = append(got, strings.Join(parts, "."))
		if strings.Join(parts, ".") == want {
			return
		}
	}
	t.Fatalf("no validation error at %s; got %v: %s", want, got, r.Body)
}
