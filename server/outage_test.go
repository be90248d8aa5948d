package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/gen/client"
)

// wantUnavailable asserts a 503 ServiceUnavailableError with Retry-After.
func wantUnavailable(t *testing.T, r connvaulttest.Response) {
	t.Helper()
	wantError(t, r, 503, "ServiceUnavailableError")
	if r.Header.Get("Retry-After") != "1" {
		t.Errorf("503 without Retry-After: %v", r.Header)
	}
}

// With the database unreachable every operation answers 503 at once,
// readiness says why, and liveness stays up.
func TestDatabaseDownAnswers503(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{UnreachableDatabase: true})
	for _, op := range everyOperation("conn_aaaaaaaaaaaaaaa") {
		start := time.Now()
		r := h.Call(t, op.method, op.path, op.body)
		wantUnavailable(t, r)
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s %s took %v", op.method, op.path, d)
		}
	}
	r := h.CallAs(t, "", "GET", "/readyz", nil)
	var ready client.HealthStatus
	if err := json.Unmarshal(r.Body, &ready); err != nil || r.Status != 503 || ready.Status != client.HealthStatusStatusUnavailable ||
		ready.Checks == nil || (*ready.Checks)["database"] != "unreachable" || r.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz with the database down: %d %s", r.Status, r.Body)
	}
	if r := h.CallAs(t, "", "GET", "/healthz", nil); r.Status != 200 {
		t.Errorf("/healthz with the database down: %d %s", r.Status, r.Body)
	}
	if r := connvaulttest.NewServer(t, connvaulttest.Options{}).CallAs(t, "", "GET", "/readyz", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"status":"ok"`) {
		t.Errorf("/readyz with the database up: %d %s", r.Status, r.Body)
	}
}

// A database that stops answering (not refusing) costs a request at most
// the statement deadline (1 s), then 503; every operation alike.
func TestDatabaseHangAnswers503WithinTheDeadline(t *testing.T) {
	t.Parallel()
	proxy := connvaulttest.NewFaultProxy(t)
	h := connvaulttest.NewServer(t, connvaulttest.Options{DatabaseURL: proxy.URL(t), AuthCacheTTL: -1})
	c := create(t, h, s3Create("hang"))
	proxy.Hang()
	for _, op := range everyOperation(c.ConnectionId) {
		start := time.Now()
		r := h.Call(t, op.method, op.path, op.body)
		wantUnavailable(t, r)
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("%s %s took %v during a hang", op.method, op.path, d)
		}
	}
	proxy.Up()
}

// The outage drill: clients keep creating and reading while the database
// goes away for two seconds and comes back. No 500s; every 503 comes
// quickly with Retry-After; service returns within seconds of the
// database; every create that was answered 200 is readable afterwards.
func TestOutageUnderLoad(t *testing.T) {
	proxy := connvaulttest.NewFaultProxy(t)
	h := connvaulttest.NewServer(t, connvaulttest.Options{DatabaseURL: proxy.URL(t)})
	const workers, run = 4, 6 * time.Second
	var (
		mu        sync.Mutex
		statuses  = map[int]int{}
		acked     []string
		slow503   time.Duration
		lastFail  time.Time
		firstOKAt time.Time
	)
	upAt := time.Time{}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Since(start) < run; i++ {
				t0 := time.Now()
				r := h.Call(t, "POST", connectionsPath, s3Create(fmt.Sprintf("load-%d-%d", w, i)))
				d := time.Since(t0)
				mu.Lock()
				statuses[r.Status]++
				switch r.Status {
				case 200:
					acked = append(acked, model(t, r).ConnectionId)
					if !upAt.IsZero() && firstOKAt.IsZero() && t0.After(upAt) {
						firstOKAt = time.Now()
					}
				case 503:
					slow503 = max(slow503, d)
					lastFail = time.Now()
					if r.Header.Get("Retry-After") == "" {
						t.Errorf("503 without Retry-After")
					}
				}
				mu.Unlock()
				if r.Status == 503 {
					time.Sleep(100 * time.Millisecond) // a client honouring Retry-After, sooner
				} else {
					time.Sleep(10 * time.Millisecond) // a bounded load
				}
			}
		})
	}
	time.Sleep(time.Second)
	proxy.Down()
	time.Sleep(2 * time.Second)
	mu.Lock()
	upAt = time.Now()
	mu.Unlock()
	proxy.Up()
	wg.Wait()

	codes := []int{}
	for code := range statuses {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	for _, code := range codes {
		if code != 200 && code != 503 {
			t.Errorf("%d answers of status %d during the outage", statuses[code], code)
		}
	}
	if statuses[503] == 0 {
		t.Fatalf("no 503 during the outage: %v", statuses)
	}
	if slow503 > 1500*time.Millisecond {
		t.Errorf("slowest 503 took %v", slow503)
	}
	if firstOKAt.IsZero() {
		t.Fatalf("no create succeeded after the database came back (%v)", statuses)
	}
	recovery := firstOKAt.Sub(upAt)
	if recovery > 3*time.Second {
		t.Errorf("service returned %v after the database", recovery)
	}
	unreadable := 0
	for _, id := range acked {
		if r := h.Call(t, "GET", connPath(id), nil); r.Status != http.StatusOK {
			unreadable++
		}
	}
	if unreadable > 0 {
		t.Errorf("%d of %d acknowledged creates are not readable", unreadable, len(acked))
	}
	t.Logf("outage drill: %v answers; slowest 503 %v; recovery %v after the database came back (last 503 at +%v); %d acknowledged creates, all readable",
		statuses, slow503.Round(time.Millisecond), recovery.Round(time.Millisecond), lastFail.Sub(upAt).Round(time.Millisecond), len(acked))
}
