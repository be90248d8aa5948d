package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// handlerBench is one in-process handler benchmark (go test -bench Handler
// ./server): the server's CPU time and allocations per request without the
// network, recorded beside the load measured in the same run.
type handlerBench struct {
	Name           string  `json:"name"`
	NsPerOp        float64 `json:"ns_per_op"`
	CPUMicrosPerOp float64 `json:"cpu_us_per_op"`
	BytesPerOp     float64 `json:"bytes_per_op"`
	AllocsPerOp    float64 `json:"allocs_per_op"`
}

var benchLine = regexp.MustCompile(`^(BenchmarkHandler\S*?)(?:-\d+)?\s+\d+\s+(.*)$`)

// handlerBenchmarks runs the handler-path benchmarks of ./server against
// the test database (about a second each) and parses their results.
func handlerBenchmarks(ctx context.Context) ([]handlerBench, error) {
	dbURL := os.Getenv("CONNVAULT_TEST_DATABASE_URL")
	if dbURL == "" {
		return nil, fmt.Errorf("CONNVAULT_TEST_DATABASE_URL is not set (make bench sets it)")
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^BenchmarkHandler", "-benchmem", "-benchtime", "1s", "./server")
	cmd.Env = append(os.Environ(), "CONNVAULT_DATABASE_URL="+dbURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %w: %s", err, out)
	}
	return parseBenchmarks(string(out)), nil
}

// parseBenchmarks reads go test's benchmark lines: a name, the iterations,
// then value-unit pairs.
func parseBenchmarks(out string) []handlerBench {
	var benches []handlerBench
	for _, line := range strings.Split(out, "\n") {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		b := handlerBench{Name: m[1]}
		fields := strings.Fields(m[2])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch fields[i+1] {
			case "ns/op":
				b.NsPerOp = v
			case "cpu-us/op":
				b.CPUMicrosPerOp = v
			case "B/op":
				b.BytesPerOp = v
			case "allocs/op":
				b.AllocsPerOp = v
			}
		}
		benches = append(benches, b)
	}
	return benches
}
