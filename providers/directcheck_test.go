package providers_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connvault/connvault/providers"
)

// double is what every providertest double offers a test.
type double interface {
	Client() *http.Client
	Endpoints() map[string]string
}

// directCase is one check run straight through Provider.Check (rawCheck),
// without providers.Run: Run scrubs secrets from results, which would hide
// a provider that leaks one.
type directCase struct {
	name  string
	cfg   providers.Config
	setup func() // optional, run just before the check
	ok    bool
	want  string // in Result.Message
	step  string // the last step: the failed one, or the final passed one
	calls int64  // requests the double must serve for this check
}

// runDirect runs cases one after another (so request counts are exact)
// against d, with a direct Env: no SSRF guard, which is netguard's to test.
func runDirect(t *testing.T, provider string, d double, requests *atomic.Int64, secrets []string, cases []directCase) {
	t.Helper()
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			before := requests.Load()
			res := rawCheck(t, provider, tc.cfg, env)
			if res.Success != tc.ok || !strings.Contains(res.Message, tc.want) {
				t.Fatalf("got success=%v %q, want %v and %q\nsteps: %+v", res.Success, res.Message, tc.ok, tc.want, res.Steps)
			}
			assertSteps(t, res, tc.ok, tc.step)
			if got := requests.Load() - before; got != tc.calls {
				t.Errorf("the double served %d requests, want %d", got, tc.calls)
			}
			assertNoSecret(t, res, secrets...)
		})
	}
}

// assertSteps checks that every step but the last passed, the last one is
// named last and matches the outcome, and a failure's message is the step's.
func assertSteps(t *testing.T, res providers.Result, ok bool, last string) {
	t.Helper()
	if len(res.Steps) == 0 {
		t.Fatalf("no steps in %+v", res)
	}
	for _, s := range res.Steps[:len(res.Steps)-1] {
		if s.Status != providers.StepPassed {
			t.Errorf("step %q is %s before the last step", s.Name, s.Status)
		}
	}
	end := res.Steps[len(res.Steps)-1]
	want := providers.StepFailed
	if ok {
		want = providers.StepPassed
	}
	if end.Name != last || end.Status != want {
		t.Errorf("last step is %q %s, want %q %s", end.Name, end.Status, last, want)
	}
	if !ok && end.Message != res.Message {
		t.Errorf("failed step says %q, result says %q", end.Message, res.Message)
	}
}

// pemLines are the base64 lines of a PEM text: any one of them appearing
// in a result would leak key material.
func pemLines(pemText string) []string {
	var out []string
	for _, l := range strings.Split(pemText, "\n") {
		if l != "" && !strings.HasPrefix(l, "-----") && !strings.Contains(l, ":") {
			out = append(out, l)
		}
	}
	return out
}

// expiredCheck runs a check whose deadline has already passed: it must
// fail at once with the deadline message and send nothing.
func expiredCheck(t *testing.T, provider string, d double, requests *atomic.Int64, cfg providers.Config) {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	before := requests.Load()
	res := rawCheckCtx(ctx, t, provider, cfg, providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()})
	if res.Success || !strings.Contains(res.Message, "deadline") {
		t.Errorf("expired check: got %+v", res)
	}
	if got := requests.Load() - before; got != 0 {
		t.Errorf("expired check sent %d requests", got)
	}
}
