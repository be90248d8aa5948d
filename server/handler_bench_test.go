package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/providers/providertest"
)

// The handler-path benchmarks serve requests in-process, as production
// does (no response validation), through everything but the network: auth
// cache, guards, validator, handler, store, a real Postgres, JSON. They
// report the server's CPU time and allocations per request:
//
//	go test -run x -bench Handler -benchmem -cpuprofile cpu.out ./server
//
// The database's own time is in ns/op too (the call waits for it), not in
// the allocations.

func benchServer(b *testing.B) *connvaulttest.Harness {
	return connvaulttest.NewServer(b, connvaulttest.Options{SkipResponseValidation: true, DiscardLogs: true})
}

// serve runs one request against the handler and fails on another status.
func serve(b *testing.B, h *connvaulttest.Harness, method, path string, body []byte, want int) {
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var req *http.Request
	if rd != nil {
		req = httptest.NewRequest(method, path, rd)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	req.Header.Set("Authorization", "Bearer "+h.Tenant.APIKey)
	rec := httptest.NewRecorder()
	h.Handler.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
}

// cpuPerOp reports this process's CPU time (user + system) per operation:
// the server's cost of a request, Postgres (another process) excluded.
func cpuPerOp(b *testing.B) func() {
	start := processCPU()
	return func() {
		b.ReportMetric(float64((processCPU()-start).Microseconds())/float64(b.N), "cpu-us/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkHandlerGetByID(b *testing.B) {
	h := benchServer(b)
	id := create(b, h, s3Create("bench by id")).ConnectionId
	path := connPath(id)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		serve(b, h, "GET", path, nil, 200)
	}
}

// Eight concurrent callers, as at the load generator's concurrency 8:
// lookups that queue behind one in flight share a trip to Postgres.
func BenchmarkHandlerGetByIDConcurrent8(b *testing.B) {
	h := benchServer(b)
	id := create(b, h, s3Create("bench by id, concurrent")).ConnectionId
	path := connPath(id)
	b.ReportAllocs()
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	defer cpuPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			serve(b, h, "GET", path, nil, 200)
		}
	})
}

func BenchmarkHandlerGetByName(b *testing.B) {
	h := benchServer(b)
	create(b, h, s3Create("bench by name"))
	path := connPath("bench by name")
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		serve(b, h, "GET", path, nil, 200)
	}
}

func BenchmarkHandlerListFirstPage(b *testing.B) {
	h := benchServer(b)
	for i := range 60 {
		create(b, h, s3Create(fmt.Sprintf("bench list %02d", i)))
	}
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		serve(b, h, "GET", connectionsPath+"?limit=50", nil, 200)
	}
}

func BenchmarkHandlerCreate(b *testing.B) {
	h := benchServer(b)
	i := 0
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		i++
		body, err := json.Marshal(s3Create(fmt.Sprintf("bench create %d", i)))
		if err != nil {
			b.Fatal(err)
		}
		serve(b, h, "POST", connectionsPath, body, 200)
	}
}

// A static secret: the lookup decrypts it and it is handed out as stored.
func BenchmarkHandlerCredentialsStatic(b *testing.B) {
	h := benchServer(b)
	path := connPath(create(b, h, s3Create("bench credentials static")).ConnectionId) + "/credentials"
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		serve(b, h, "POST", path, nil, 200)
	}
}

// A Snowflake key-pair JWT, signed by the first issue and then served from
// the cache until shortly before it expires.
func BenchmarkHandlerCredentialsCached(b *testing.B) {
	h := benchServer(b)
	key := providertest.NewKeyPair(b)
	id := create(b, h, map[string]any{"name": "bench credentials cached", "provider_type": "snowflake", "test_before_save": false,
		"provider_config": map[string]any{"account": "xy12345", "credentials": map[string]any{
			"type": "key_pair", "username": "LOADER", "private_key": key.PKCS8PEM}}}).ConnectionId
	path := connPath(id) + "/credentials"
	serve(b, h, "POST", path, nil, 200)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		serve(b, h, "POST", path, nil, 200)
	}
}
