package providers_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault/providers"
)

// rawCheck runs a provider's Check directly, not through providers.Run:
// Run scrubs secrets from every result, and these tests must prove the
// check itself never produces one in the first place.
func rawCheck(t *testing.T, providerType string, cfg providers.Config, env providers.Env) providers.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return rawCheckCtx(ctx, t, providerType, cfg, env)
}

func rawCheckCtx(ctx context.Context, t *testing.T, providerType string, cfg providers.Config, env providers.Env) providers.Result {
	t.Helper()
	p, ok := providers.Lookup(providerType)
	if !ok {
		t.Fatalf("provider %s is not registered", providerType)
	}
	return p.Check(ctx, cfg, env)
}

// rawCase is one check run and what its result must say.
type rawCase struct {
	name string
	cfg  providers.Config
	ok   bool
	want string
}

// expectResult asserts the outcome, the message, well-formed steps, and
// that no secret appears anywhere in the result, raw or URL-escaped.
func expectResult(t *testing.T, res providers.Result, ok bool, want string, secrets ...string) {
	t.Helper()
	if res.Success != ok || !strings.Contains(res.Message, want) {
		t.Fatalf("got %+v, want success=%v and a message with %q", res, ok, want)
	}
	if len(res.Steps) == 0 {
		t.Fatalf("result has no steps: %+v", res)
	}
	last := res.Steps[len(res.Steps)-1]
	// A passing check ends PASSED, or SKIPPED where the config lacks what
	// the step needs; a failing one ends FAILED.
	if want := map[bool]providers.StepStatus{true: providers.StepPassed, false: providers.StepFailed}[ok]; last.Status != want && !(ok && last.Status == providers.StepSkipped) {
		t.Errorf("last step %q is %s, want %s", last.Name, last.Status, want)
	}
	for _, s := range res.Steps {
		if s.Name == "" || s.Message == "" {
			t.Errorf("step without name or message: %+v", s)
		}
	}
	var escaped []string
	for _, s := range secrets {
		escaped = append(escaped, s, url.QueryEscape(s))
	}
	assertNoSecret(t, res, escaped...)
}

// runRawCases runs each case in a parallel subtest against env.
func runRawCases(t *testing.T, providerType string, env providers.Env, secrets []string, cases []rawCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			expectResult(t, rawCheck(t, providerType, tc.cfg, env), tc.ok, tc.want, secrets...)
		})
	}
}

// assertNoSecret fails if any secret value appears in the result.
func assertNoSecret(t *testing.T, res providers.Result, secrets ...string) {
	t.Helper()
	texts := []string{res.Message}
	for _, s := range res.Steps {
		texts = append(texts, s.Name, s.Message)
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				t.Errorf("result reveals a secret: %q", txt)
			}
		}
	}
}
