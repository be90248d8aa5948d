package server_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/server"
)

// Info lines gather and reach the output on the timer, in order, all of
// them by Close; a warning is written through at once, with what gathered
// before it; 32 KB of lines are written without waiting.
func TestLogBuffer(t *testing.T) {
	var out connvaulttest.SyncBuffer
	logs := server.NewLogBuffer(&out, time.Hour) // the timer never fires here
	logger, err := server.NewLogger(logs, "info")
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("first")
	logger.Info("second")
	if got := out.String(); got != "" {
		t.Fatalf("info lines written before the timer: %q", got)
	}
	logger.Warn("third", "password", "hunter2-logbuffer")
	got := out.String()
	if i, j, k := strings.Index(got, `"first"`), strings.Index(got, `"second"`), strings.Index(got, `"third"`); i < 0 || j < i || k < j {
		t.Fatalf("after a warning, want first, second, third in order: %q", got)
	}
	if strings.Contains(got, "hunter2-logbuffer") {
		t.Fatal("a secret attribute reached the log")
	}

	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				logger.Info("line", "g", g, "i", i, "pad", strings.Repeat("x", 40))
			}
		})
	}
	wg.Wait()
	if n := strings.Count(out.String(), `"msg":"line"`); n == 0 || n == 800 {
		t.Errorf("%d of 800 lines written before Close: want some (32 KB gathered), not all", n)
	}
	logger.Info("last")
	if err := logs.Close(); err != nil {
		t.Fatal(err)
	}
	got = out.String()
	if n := strings.Count(got, `"msg":"line"`); n != 800 || !strings.HasSuffix(strings.TrimSpace(got), `"msg":"last"}`) {
		t.Errorf("after Close: %d of 800 lines, last line %q", n, got[strings.LastIndex(strings.TrimSpace(got), "\n")+1:])
	}
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}") {
			t.Fatalf("a torn line: %q", line)
		}
	}
}

// The timer writes what gathered without a Flush.
func TestLogBufferTimer(t *testing.T) {
	var out connvaulttest.SyncBuffer
	logs := server.NewLogBuffer(&out, 10*time.Millisecond)
	defer logs.Close()
	fmt.Fprintln(logs, `{"msg":"tick"}`)
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(out.String(), "tick") {
		if time.Now().After(deadline) {
			t.Fatal("the timer did not write the line within 2 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The request log's line, written to a file directly and through a
// LogBuffer: go test -run x -bench RequestLog ./server
func BenchmarkRequestLog(b *testing.B) {
	for _, buffered := range []bool{false, true} {
		b.Run(fmt.Sprintf("buffered=%v", buffered), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var w io.Writer = f
			if buffered {
				logs := server.NewLogBuffer(f, 100*time.Millisecond)
				defer logs.Close()
				w = logs
			}
			logger, err := server.NewLogger(w, "info")
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				logger.InfoContext(ctx, "request", "method", "GET", "route", "/v1/organizations/connections/:connection_identifier",
					"status", 200, "duration_ms", int64(0))
			}
		})
	}
}
