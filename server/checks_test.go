package server_test

import (
	"strings"
	"testing"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/providers/providertest"
)

func s3Against(d *providertest.S3, name, bucket, secret string) map[string]any {
	return map[string]any{
		"name":          name,
		"provider_type": "s3",
		"provider_config": map[string]any{
			"bucket": bucket, "endpoint_url": d.URL, "region": "us-east-1",
			"credentials": map[string]any{"type": "access_key", "access_key_id": d.AccessKey, "secret_access_key": secret},
		},
	}
}

func TestCreateTestsBeforeSaving(t *testing.T) {
	t.Parallel()
	d := providertest.NewS3(t, "AKIACHECKS", "right-secret-for-checks", map[string][]string{"assets": {"a"}})
	h := connvaulttest.NewServer(t, connvaulttest.Options{})

	ok := create(t, h, s3Against(d, "checked", "assets", "right-secret-for-checks"))
	if ok.LastUsedAt == nil || ok.LastCheckedAt == nil {
		t.Errorf("a passing check before save is not recorded: %v %v", ok.LastUsedAt, ok.LastCheckedAt)
	}

	r := h.Call(t, "POST", connectionsPath, s3Against(d, "refused", "assets", "wrong-secret-for-checks"))
	e := wantError(t, r, 422, "ValidationError")
	if !strings.Contains(e.Message, "the secret access key is wrong") {
		t.Errorf("message = %v", e.Message)
	}
	if strings.Contains(string(r.Body), "wrong-secret-for-checks") {
		t.Error("the refusal quotes the secret")
	}
	wantFieldError(t, r, "body", "provider_config")
	// Nothing was saved.
	wantError(t, h.Call(t, "GET", connPath("refused"), nil), 404, "NotFoundError")

	// test_before_save=false saves without calling the provider.
	before := d.Requests.Load()
	body := s3Against(d, "unchecked", "assets", "wrong-secret-for-checks")
	body["test_before_save"] = false
	create(t, h, body)
	if d.Requests.Load() != before {
		t.Error("test_before_save=false still called the provider")
	}
}

func TestTestEndpointRecordsOutcomes(t *testing.T) {
	t.Parallel()
	d := providertest.NewS3(t, "AKIATESTEP", "secret-for-test-endpoint", map[string][]string{"assets": {"a"}})
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Against(d, "tested", "assets", "secret-for-test-endpoint"))
	id := c.ConnectionId

	r := h.Call(t, "POST", connPath(id)+"/test", nil)
	if r.Status != 200 {
		t.Fatalf("test: %d %s", r.Status, r.Body)
	}
	res := r.JSON(t)
	steps := res["details"].(map[string]any)["steps"].([]any)
	if res["success"] != true || len(steps) < 2 {
		t.Fatalf("test result = %s", r.Body)
	}

	// The provider starts refusing: a failed check is a 200 with success=false,
	// and it counts on the connection.
	d.SetFailing(true)
	for i := 1; i <= 5; i++ {
		r := h.Call(t, "POST", connPath("tested")+"/test", nil)
		if r.Status != 200 || r.JSON(t)["success"] != false {
			t.Fatalf("failing test %d: %d %s", i, r.Status, r.Body)
		}
		got := h.Call(t, "GET", connPath(id), nil).JSON(t)
		if got["consecutive_failures"] != float64(i) || !strings.Contains(got["last_error"].(string), "access key id is not known") {
			t.Fatalf("after failure %d: %v %v", i, got["consecutive_failures"], got["last_error"])
		}
		if wantStatus := map[bool]string{true: "FAILED", false: "ACTIVE"}[i == 5]; got["status"] != wantStatus {
			t.Fatalf("after failure %d status = %v, want %s", i, got["status"], wantStatus)
		}
	}
	failedConn := h.Call(t, "GET", connPath(id), nil).JSON(t)
	if failedConn["is_active"] != false || failedConn["status_reason"] == nil {
		t.Errorf("FAILED connection: is_active %v reason %v", failedConn["is_active"], failedConn["status_reason"])
	}
	// ACTIVE cannot be decreed; a passing test brings it back.
	wantFieldError(t, h.Call(t, "PATCH", connPath(id), map[string]any{"status": "ACTIVE"}), "body", "status")
	// Nor by way of SUSPENDED: suspending keeps the failures, and resuming
	// waits for a passing test too.
	if r := h.Call(t, "PATCH", connPath(id), map[string]any{"status": "SUSPENDED"}); r.Status != 200 || r.JSON(t)["status"] != "SUSPENDED" {
		t.Fatalf("suspend a FAILED connection: %d %s", r.Status, r.Body)
	}
	wantFieldError(t, h.Call(t, "PATCH", connPath(id), map[string]any{"status": "ACTIVE"}), "body", "status")
	wantFieldError(t, h.Call(t, "PATCH", connPath(id), map[string]any{"is_active": true}), "body", "status")
	if got := h.Call(t, "GET", connPath(id), nil).JSON(t); got["status"] != "SUSPENDED" || got["consecutive_failures"] != float64(5) {
		t.Fatalf("a refused resume changed the connection: %v %v", got["status"], got["consecutive_failures"])
	}
	d.SetFailing(false)
	if r := h.Call(t, "POST", connPath(id)+"/test", nil); r.JSON(t)["success"] != true {
		t.Fatalf("test while suspended: %s", r.Body)
	}
	if r := h.Call(t, "PATCH", connPath(id), map[string]any{"status": "ACTIVE"}); r.Status != 200 || r.JSON(t)["status"] != "ACTIVE" {
		t.Fatalf("resume after a passing test: %d %s", r.Status, r.Body)
	}
	d.SetFailing(true)
	for i := 1; i <= 5; i++ {
		h.Call(t, "POST", connPath(id)+"/test", nil)
	}
	if got := h.Call(t, "GET", connPath(id), nil).JSON(t); got["status"] != "FAILED" {
		t.Fatalf("failing again: status %v", got["status"])
	}
	d.SetFailing(false)
	if r := h.Call(t, "POST", connPath(id)+"/test", nil); r.JSON(t)["success"] != true {
		t.Fatalf("recovery test: %s", r.Body)
	}
	back := h.Call(t, "GET", connPath(id), nil).JSON(t)
	if back["status"] != "ACTIVE" || back["consecutive_failures"] != float64(0) || back["last_error"] != nil {
		t.Errorf("after recovery: %v %v %v", back["status"], back["consecutive_failures"], back["last_error"])
	}
}

// The user story: GET, edit a non-secret field, PATCH the object
// back with its redaction markers, and the stored secret still works.
func TestPatchRoundTripKeepsWorkingCredentials(t *testing.T) {
	t.Parallel()
	d := providertest.NewS3(t, "AKIAROUND", "round-trip-secret-value", map[string][]string{"first": {"a"}, "second": {"b"}})
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Against(d, "round trip", "first", "round-trip-secret-value"))
	id := c.ConnectionId
	cfg := h.Call(t, "GET", connPath(id), nil).JSON(t)["provider_config"].(map[string]any)
	cfg["bucket"] = "second"
	r := h.Call(t, "PATCH", connPath(id), map[string]any{"provider_config": cfg}) // tested before saving
	if r.Status != 200 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	res := h.Call(t, "POST", connPath(id)+"/test", nil).JSON(t)
	if res["success"] != true || !strings.Contains(res["message"].(string), "second") {
		t.Errorf("test after round trip: %v", res)
	}
	// New credentials that fail their test are refused and not stored.
	bad := map[string]any{"provider_config": map[string]any{"credentials": map[string]any{"secret_access_key": "a-wrong-new-secret"}}}
	wantError(t, h.Call(t, "PATCH", connPath(id), bad), 422, "ValidationError")
	if res := h.Call(t, "POST", connPath(id)+"/test", nil).JSON(t); res["success"] != true {
		t.Errorf("a refused PATCH changed the stored secret: %v", res)
	}
	// A secret_fields fingerprint changes with the secret, not otherwise.
	before := h.Call(t, "GET", connPath(id), nil).JSON(t)["secret_fields"].([]any)[0].(map[string]any)
	d.RotateSecret("rotated-secret-value")
	rot := map[string]any{"provider_config": map[string]any{"credentials": map[string]any{"secret_access_key": "rotated-secret-value"}}}
	after := h.Call(t, "PATCH", connPath(id), rot).JSON(t)["secret_fields"].([]any)[0].(map[string]any)
	if before["fingerprint"] == after["fingerprint"] || before["changed_at"] == after["changed_at"] {
		t.Errorf("fingerprint did not follow the rotation: %v -> %v", before, after)
	}
	same := h.Call(t, "PATCH", connPath(id), map[string]any{"name": "renamed"}).JSON(t)["secret_fields"].([]any)[0].(map[string]any)
	if same["fingerprint"] != after["fingerprint"] || same["changed_at"] != after["changed_at"] {
		t.Errorf("fingerprint changed without a secret change: %v -> %v", after, same)
	}
}
