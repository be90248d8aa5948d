package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/gen/client"
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
	if res := testResult(t, r); !res.Success || len(res.Details.Steps) < 2 {
		t.Fatalf("test result = %s", r.Body)
	}

	// The provider starts refusing: a failed check is a 200 with success=false,
	// and it counts on the connection.
	d.SetFailing(true)
	for i := 1; i <= 5; i++ {
		r := h.Call(t, "POST", connPath("tested")+"/test", nil)
		if r.Status != 200 || testResult(t, r).Success {
			t.Fatalf("failing test %d: %d %s", i, r.Status, r.Body)
		}
		got := get(t, h, id)
		if got.ConsecutiveFailures != i || got.LastError == nil || !strings.Contains(*got.LastError, "access key id is not known") {
			t.Fatalf("after failure %d: %v %v", i, got.ConsecutiveFailures, got.LastError)
		}
		if wantStatus := map[bool]client.ConnectionStatus{true: client.ConnectionStatusFAILED, false: client.ConnectionStatusACTIVE}[i == 5]; got.Status != wantStatus {
			t.Fatalf("after failure %d status = %v, want %s", i, got.Status, wantStatus)
		}
	}
	if failedConn := get(t, h, id); failedConn.IsActive || failedConn.StatusReason == nil {
		t.Errorf("FAILED connection: is_active %v reason %v", failedConn.IsActive, failedConn.StatusReason)
	}
	// ACTIVE cannot be decreed; a passing test brings it back.
	wantFieldError(t, h.Call(t, "PATCH", connPath(id), map[string]any{"status": "ACTIVE"}), "body", "status")
	// Nor by way of SUSPENDED: suspending keeps the failures, and resuming
	// waits for a passing test too.
	if r := h.Call(t, "PATCH", connPath(id), map[string]any{"status": "SUSPENDED"}); r.Status != 200 || model(t, r).Status != "SUSPENDED" {
		t.Fatalf("suspend a FAILED connection: %d %s", r.Status, r.Body)
	}
	wantFieldError(t, h.Call(t, "PATCH", connPath(id), map[string]any{"status": "ACTIVE"}), "body", "status")
	wantFieldError(t, h.Call(t, "PATCH", connPath(id), map[string]any{"is_active": true}), "body", "status")
	if got := get(t, h, id); got.Status != client.ConnectionStatusSUSPENDED || got.ConsecutiveFailures != 5 {
		t.Fatalf("a refused resume changed the connection: %v %v", got.Status, got.ConsecutiveFailures)
	}
	d.SetFailing(false)
	if r := h.Call(t, "POST", connPath(id)+"/test", nil); !testResult(t, r).Success {
		t.Fatalf("test while suspended: %s", r.Body)
	}
	if r := h.Call(t, "PATCH", connPath(id), map[string]any{"status": "ACTIVE"}); r.Status != 200 || model(t, r).Status != "ACTIVE" {
		t.Fatalf("resume after a passing test: %d %s", r.Status, r.Body)
	}
	d.SetFailing(true)
	for i := 1; i <= 5; i++ {
		h.Call(t, "POST", connPath(id)+"/test", nil)
	}
	if got := get(t, h, id); got.Status != client.ConnectionStatusFAILED {
		t.Fatalf("failing again: status %v", got.Status)
	}
	d.SetFailing(false)
	if r := h.Call(t, "POST", connPath(id)+"/test", nil); !testResult(t, r).Success {
		t.Fatalf("recovery test: %s", r.Body)
	}
	if back := get(t, h, id); back.Status != client.ConnectionStatusACTIVE || back.ConsecutiveFailures != 0 || back.LastError != nil {
		t.Errorf("after recovery: %v %v %v", back.Status, back.ConsecutiveFailures, back.LastError)
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
	var cfg map[string]any // the config exactly as read, markers included
	if err := json.Unmarshal(get(t, h, id).ProviderConfig, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["bucket"] = "second"
	r := h.Call(t, "PATCH", connPath(id), map[string]any{"provider_config": cfg}) // tested before saving
	if r.Status != 200 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if res := testResult(t, h.Call(t, "POST", connPath(id)+"/test", nil)); !res.Success || !strings.Contains(res.Message, "second") {
		t.Errorf("test after round trip: %+v", res)
	}
	// New credentials that fail their test are refused and not stored.
	bad := map[string]any{"provider_config": map[string]any{"credentials": map[string]any{"secret_access_key": "a-wrong-new-secret"}}}
	wantError(t, h.Call(t, "PATCH", connPath(id), bad), 422, "ValidationError")
	if res := testResult(t, h.Call(t, "POST", connPath(id)+"/test", nil)); !res.Success {
		t.Errorf("a refused PATCH changed the stored secret: %+v", res)
	}
	// A secret_fields fingerprint changes with the secret, not otherwise.
	before := get(t, h, id).SecretFields[0]
	d.RotateSecret("rotated-secret-value")
	rot := map[string]any{"provider_config": map[string]any{"credentials": map[string]any{"secret_access_key": "rotated-secret-value"}}}
	after := model(t, h.Call(t, "PATCH", connPath(id), rot)).SecretFields[0]
	if before.Fingerprint == after.Fingerprint || before.ChangedAt.Equal(after.ChangedAt) {
		t.Errorf("fingerprint did not follow the rotation: %+v -> %+v", before, after)
	}
	same := model(t, h.Call(t, "PATCH", connPath(id), map[string]any{"name": "renamed"})).SecretFields[0]
	if same.Fingerprint != after.Fingerprint || !same.ChangedAt.Equal(after.ChangedAt) {
		t.Errorf("fingerprint changed without a secret change: %+v -> %+v", after, same)
	}
}
