package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/connvault/connvault/connvaulttest"
)

// BenchmarkGetByID measures one GET through the whole stack in-process
// (auth cache, validator, handler, store, JSON), for CPU profiles of the
// hot path: go test -run x -bench GetByID -cpuprofile cpu.out ./server
func BenchmarkGetByID(b *testing.B) {
	h := connvaulttest.NewServer(b, connvaulttest.Options{})
	id := createB(b, h)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", h.URL+connPath(id), nil)
			req.RequestURI = ""
			req.Header.Set("Authorization", "Bearer "+h.Tenant.APIKey)
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err, resp.StatusCode)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

func createB(b *testing.B, h *connvaulttest.Harness) string {
	r := h.Call(b, "POST", connectionsPath, s3Create("bench-"+b.Name()))
	if r.Status != 200 {
		b.Fatalf("create: %d %s", r.Status, r.Body)
	}
	return r.JSON(b)["connection_id"].(string)
}
