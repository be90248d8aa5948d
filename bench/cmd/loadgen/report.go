package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

type result struct {
	Operation                 string  `json:"operation"`
	Concurrency               int     `json:"concurrency"`
	HTTP                      stats   `json:"connvault"`
	Floor                     stats   `json:"floor"`
	Ratio                     float64 `json:"throughput_ratio"`
	ServerCPUMicrosPerRequest float64 `json:"server_cpu_us_per_request"`
	// The local Postgres server's CPU time (all its processes) per request
	// of the HTTP measurement and of the floor's: 0 when it runs elsewhere.
	PostgresCPUMicrosPerRequest      float64 `json:"postgres_cpu_us_per_request,omitempty"`
	FloorPostgresCPUMicrosPerRequest float64 `json:"floor_postgres_cpu_us_per_request,omitempty"`
}

type report struct {
	Machine string `json:"machine"`
	Commit  string `json:"commit"`
	// ServerBinary is the connvault binary measured when it is not the
	// commit's own (-server-bin).
	ServerBinary    string  `json:"server_binary,omitempty"`
	Date            string  `json:"date"`
	Rows            int     `json:"rows"`
	Orgs            int     `json:"orgs"`
	Duration        string  `json:"duration_per_run"`
	PoolSize        int     `json:"pool_size"`
	ServerPeakRSSMB float64 `json:"server_peak_rss_mb"`
	// HostProbeMs is hostProbe's time before the first measurement and
	// after the last (higher is a slower host).
	HostProbeMs [2]float64 `json:"host_probe_ms"`
	Results     []result   `json:"results"`
	// Floors of GET by id at concurrency 8, measured in the same run:
	// Postgres' own point select and a plain HTTP handler.
	Floors *floors `json:"floors,omitempty"`
	// GetByID versus those floors, at that concurrency.
	GetByIDVsPgbench   float64 `json:"get_by_id_vs_pgbench"`
	GetByIDVsPlainHTTP float64 `json:"get_by_id_vs_plain_http"`
	// The plain handler that runs GET by id's query through pgx first.
	GetByIDVsPlainHTTPPgx float64 `json:"get_by_id_vs_plain_http_pgx,omitempty"`
	PlainHTTPPgxVsPgbench float64 `json:"plain_http_pgx_vs_pgbench,omitempty"`
	// Credentials issues versus GET by id measured beside them in the
	// same rounds (medians of the rounds' ratios).
	CredentialsStaticVsGetByID float64 `json:"credentials_static_vs_get_by_id,omitempty"`
	CredentialsCachedVsGetByID float64 `json:"credentials_cached_vs_get_by_id,omitempty"`
	// HandlerBenchmarks are the in-process handler-path benchmarks of the
	// same commit (not measured with -server-bin: they test the tree).
	HandlerBenchmarks []handlerBench `json:"handler_benchmarks,omitempty"`
}

var headerPrinted bool

func printRow(r result) {
	if !headerPrinted {
		fmt.Printf("%-24s %4s | %9s %7s %7s %7s | %9s %7s %7s %7s | %6s %8s | %8s %8s\n", "operation", "conc",
			"cv req/s", "p50 ms", "p99 ms", "p99.9", "floor r/s", "p50 ms", "p99 ms", "p99.9", "ratio", "cpu us/r", "pg us/r", "floor pg")
		headerPrinted = true
	}
	fmt.Printf("%-24s %4d | %9.0f %7.2f %7.2f %7.2f | %9.0f %7.2f %7.2f %7.2f | %6.2f %8.0f | %8.0f %8.0f\n", r.Operation, r.Concurrency,
		r.HTTP.Throughput, r.HTTP.P50, r.HTTP.P99, r.HTTP.P999, r.Floor.Throughput, r.Floor.P50, r.Floor.P99, r.Floor.P999,
		r.Ratio, r.ServerCPUMicrosPerRequest, r.PostgresCPUMicrosPerRequest, r.FloorPostgresCPUMicrosPerRequest)
}

// write stores the JSON (dated and as latest.json) and the SVG chart.
func (rep *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	name := strings.NewReplacer(":", "", "-", "").Replace(rep.Date[:16]) + "-" + rep.Commit + ".json"
	for _, f := range []string{name, "latest.json"} {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "latency.svg"), []byte(rep.svg()), 0o644); err != nil {
		return err
	}
	fmt.Printf("results: %s, %s\n", filepath.Join(dir, name), filepath.Join(dir, "latency.svg"))
	return nil
}

// svg draws p50 latency against concurrency (log scales) for every
// operation: connvault solid, the floor dashed.
func (rep *report) svg() string {
	const w, h, left, top, right, bottom = 900, 520, 70, 40, 230, 60
	var ops []string
	byOp := map[string][]result{}
	maxLat, minLat := 0.0, math.Inf(1)
	maxC := 1
	for _, r := range rep.Results {
		if _, ok := byOp[r.Operation]; !ok {
			ops = append(ops, r.Operation)
		}
		byOp[r.Operation] = append(byOp[r.Operation], r)
		for _, v := range []float64{r.HTTP.P50, r.Floor.P50} {
			if v > 0 {
				maxLat, minLat = math.Max(maxLat, v), math.Min(minLat, v)
			}
		}
		maxC = max(maxC, r.Concurrency)
	}
	if maxLat == 0 {
		return `<svg xmlns="http://www.w3.org/2000/svg"/>`
	}
	lo, hi := math.Floor(math.Log10(minLat)), math.Ceil(math.Log10(maxLat))
	if hi == lo {
		hi++
	}
	x := func(c int) float64 {
		return left + (w-left-right)*math.Log2(float64(c))/math.Max(1, math.Log2(float64(maxC)))
	}
	y := func(ms float64) float64 { return top + (h-top-bottom)*(1-(math.Log10(ms)-lo)/(hi-lo)) }
	colors := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, w, h)
	fmt.Fprintf(&sb, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="22" font-size="15">p50 latency vs concurrency: connvault (solid) and its SQL floor (dashed)</text>`, left)
	for e := lo; e <= hi; e++ {
		v := math.Pow(10, e)
		fmt.Fprintf(&sb, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g ms</text>`, left, w-right, y(v), y(v), left-6, y(v)+4, v)
	}
	for c := 1; c <= maxC; c *= 2 {
		fmt.Fprintf(&sb, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`, x(c), h-bottom+18, c)
	}
	fmt.Fprintf(&sb, `<text x="%d" y="%d" text-anchor="middle">concurrency</text>`, (w-right+left)/2, h-bottom+40)
	for i, op := range ops {
		col := colors[i%len(colors)]
		for _, side := range []string{"http", "floor"} {
			var pts []string
			for _, r := range byOp[op] {
				v := r.HTTP.P50
				if side == "floor" {
					v = r.Floor.P50
				}
				if v > 0 {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(r.Concurrency), y(v)))
				}
			}
			dash := ""
			if side == "floor" {
				dash = ` stroke-dasharray="5,4"`
			}
			fmt.Fprintf(&sb, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, col, dash, strings.Join(pts, " "))
		}
		fmt.Fprintf(&sb, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/><text x="%d" y="%d">%s</text>`,
			w-right+15, w-right+40, top+20*i+10, top+20*i+10, col, w-right+46, top+20*i+14, op)
	}
	fmt.Fprintf(&sb, `<text x="%d" y="%d" fill="#555">%s, commit %s</text></svg>`, left, h-8, rep.Date, rep.Commit)
	return sb.String()
}
