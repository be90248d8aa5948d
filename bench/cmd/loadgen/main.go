// Command loadgen is connvault's benchmark (`make bench`). It seeds a
// realistic data set, starts the real server binary, drives HTTP load at
// fixed concurrency levels and, in the same run, issues the same SQL the
// handlers issue directly through pgx (the floor), then reports both and
// their ratio as a table, a JSON file and an SVG chart.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"time"
)

type options struct {
	databaseURL string
	rows, orgs  int
	bigOrgRows  int
	depth       int
	duration    time.Duration
	warmup      time.Duration
	levels      []int
	out         string
	only        string
	serverBin   string
	handlers    bool
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == plainServeFlag {
		if err := servePlain(os.Args[2], os.Args[3]); err != nil {
			log.Fatal(err)
		}
		return
	}
	var o options
	var levels string
	flag.StringVar(&o.databaseURL, "database-url", os.Getenv("CONNVAULT_BENCH_DATABASE_URL"), "Postgres URL of a database the benchmark may fill")
	flag.IntVar(&o.rows, "rows", 100_000, "connections to seed")
	flag.IntVar(&o.orgs, "orgs", 100, "organizations to spread them over")
	flag.IntVar(&o.bigOrgRows, "big-org-rows", 60_000, "rows of the largest organization (deep cursor paging needs > 50,000)")
	flag.IntVar(&o.depth, "depth", 50_000, "row the deep-cursor workload starts after")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "measured time per operation and concurrency")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up before each measurement")
	flag.StringVar(&levels, "concurrency", "1,8,64", "concurrency levels")
	flag.StringVar(&o.out, "out", "bench/results", "where to write the JSON and SVG results")
	flag.StringVar(&o.only, "only", "", "comma-separated operations to run (default all)")
	flag.StringVar(&o.serverBin, "server-bin", "", "run this connvault binary instead of building ./cmd/connvault (e.g. an earlier commit's, for a before/after in the same conditions)")
	flag.BoolVar(&o.handlers, "handler-bench", true, "also run the in-process handler benchmarks (go test -bench Handler ./server) for CPU and allocations per request; skipped with -server-bin or -only")
	flag.Parse()
	for _, l := range strings.Split(levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil || n < 1 {
			log.Fatalf("bad concurrency %q", l)
		}
		o.levels = append(o.levels, n)
	}
	if o.databaseURL == "" {
		log.Fatal("set CONNVAULT_BENCH_DATABASE_URL (make bench does)")
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
