package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/connvault/connvault/connvaulttest"
)

func createWithKey(t *testing.T, h *connvaulttest.Harness, key string, body any) connvaulttest.Response {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(t.Context(), "POST", h.URL+connectionsPath, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.Tenant.APIKey)
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return connvaulttest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// A retried create with the same Idempotency-Key and body answers the first
// answer and creates nothing; another body under the key is a 422; a failed
// create leaves the key free; concurrent retries create one connection.
func TestIdempotentCreate(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	first := createWithKey(t, h, "retry-1", s3Create("idem"))
	if first.Status != 200 {
		t.Fatalf("first: %d %s", first.Status, first.Body)
	}
	again := createWithKey(t, h, "retry-1", s3Create("idem"))
	if again.Status != 200 || !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("retry answered %d %s, want the first answer %s", again.Status, again.Body, first.Body)
	}
	wantFieldError(t, createWithKey(t, h, "retry-1", s3Create("other")), "header", "Idempotency-Key")
	if n := liveCount(t, h); n != 1 {
		t.Fatalf("%d connections after retries, want 1", n)
	}
	// Keys are per organization.
	other := connvaulttest.NewServer(t, connvaulttest.Options{})
	if r := createWithKey(t, other, "retry-1", s3Create("idem")); r.Status != 200 || bytes.Equal(r.Body, first.Body) {
		t.Fatalf("another organization's key: %d %s", r.Status, r.Body)
	}
	// A refused create does not hold the key.
	bad := s3Create("bad")
	bad["provider_config"].(map[string]any)["bucket"] = "x" // too short
	wantFieldError(t, createWithKey(t, h, "retry-2", bad), "body", "provider_config", "bucket")
	taken := s3Create("idem") // the name is taken: 409, key released
	wantError(t, createWithKey(t, h, "retry-2", taken), 409, "AlreadyExistsError")
	if r := createWithKey(t, h, "retry-2", s3Create("idem two")); r.Status != 200 {
		t.Fatalf("key after failed creates: %d %s", r.Status, r.Body)
	}
	// Concurrent retries: one connection, every answer a 200 of it or a 409.
	var wg sync.WaitGroup
	answers := make([]connvaulttest.Response, 8)
	for i := range answers {
		wg.Go(func() { answers[i] = createWithKey(t, h, "retry-3", s3Create("concurrent")) })
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, r := range answers {
		switch r.Status {
		case 200:
			ids[model(t, r).ConnectionId] = true
		case 409:
			wantError(t, r, 409, "ConflictError")
		default:
			t.Errorf("concurrent retry: %d %s", r.Status, r.Body)
		}
	}
	if len(ids) != 1 || liveCount(t, h) != 3 {
		t.Errorf("concurrent retries made %d distinct connections (%d stored), want 1", len(ids), liveCount(t, h))
	}
}
