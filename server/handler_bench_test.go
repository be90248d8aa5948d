package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
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

// caller serves requests against the handler in-process, as net/http's
// connection would: the answer goes into a buffer reused from request to
// request, and the request is built without a reader. httptest's recorder
// grows a new buffer for every answer (95 kB for a list page) and
// httptest.NewRequest parses the request through a new 4 kB reader, which
// the benchmarks used to count as the server's. One caller per goroutine.
type caller struct {
	h *connvaulttest.Harness
	w benchWriter
}

func newCaller(h *connvaulttest.Harness) *caller {
	return &caller{h: h, w: benchWriter{header: http.Header{}}}
}

// serve runs one request and fails on another status.
func (c *caller) serve(b *testing.B, method, path string, body []byte, want int) {
	var rd io.Reader = http.NoBody // as net/http's server gives a request without one
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://example.com"+path, rd)
	if err != nil {
		b.Fatal(err)
	}
	req.RequestURI, req.RemoteAddr = path, "192.0.2.1:1234" // as httptest.NewRequest sets them
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.h.Tenant.APIKey)
	c.w.reset()
	c.h.Handler.ServeHTTP(&c.w, req)
	if c.w.status != want {
		b.Fatalf("%s %s: %d %s", method, path, c.w.status, c.w.body.Bytes())
	}
}

// benchWriter keeps an answer's status and body; reset empties it for the
// next one, keeping the body's buffer.
type benchWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *benchWriter) Header() http.Header { return w.header }

func (w *benchWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

func (w *benchWriter) reset() {
	clear(w.header)
	w.status = 0
	w.body.Reset()
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
	c := newCaller(h)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		c.serve(b, "GET", path, nil, 200)
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
		c := newCaller(h)
		for pb.Next() {
			c.serve(b, "GET", path, nil, 200)
		}
	})
}

func BenchmarkHandlerGetByName(b *testing.B) {
	h := benchServer(b)
	create(b, h, s3Create("bench by name"))
	path := connPath("bench by name")
	c := newCaller(h)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		c.serve(b, "GET", path, nil, 200)
	}
}

func BenchmarkHandlerListFirstPage(b *testing.B) {
	h := benchServer(b)
	for i := range 60 {
		create(b, h, s3Create(fmt.Sprintf("bench list %02d", i)))
	}
	c := newCaller(h)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		c.serve(b, "GET", connectionsPath+"?limit=50", nil, 200)
	}
}

func BenchmarkHandlerCreate(b *testing.B) {
	h := benchServer(b)
	// Each body is the template with its own name, spliced in (encoding
	// the body anew was the benchmark's work, not the server's).
	template, err := json.Marshal(s3Create("bench create NAME"))
	if err != nil {
		b.Fatal(err)
	}
	before, after, _ := bytes.Cut(template, []byte("NAME"))
	c, body, i := newCaller(h), []byte(nil), 0
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		i++
		body = append(strconv.AppendInt(append(body[:0], before...), int64(i), 10), after...)
		c.serve(b, "POST", connectionsPath, body, 200)
	}
}

// A static secret: the lookup decrypts it and it is handed out as stored.
func BenchmarkHandlerCredentialsStatic(b *testing.B) {
	h := benchServer(b)
	path := connPath(create(b, h, s3Create("bench credentials static")).ConnectionId) + "/credentials"
	c := newCaller(h)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		c.serve(b, "POST", path, nil, 200)
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
	c := newCaller(h)
	c.serve(b, "POST", path, nil, 200)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		c.serve(b, "POST", path, nil, 200)
	}
}
