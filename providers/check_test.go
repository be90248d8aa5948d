package providers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault/providers"
)

// Run is what makes any check safe to show; these providers misbehave on
// purpose and are never registered.
func TestRun(t *testing.T) {
	t.Parallel()
	const secret = "run-secret-value-123"
	cfg := providers.Config{"credentials": map[string]any{"password": secret}}
	declare := func(check func(context.Context, providers.Config, providers.Env) providers.Result) *providers.Provider {
		return &providers.Provider{Type: "misbehaving", Secrets: []string{"credentials.password"}, Check: check}
	}
	for _, tc := range []struct {
		name     string
		p        *providers.Provider
		timeout  time.Duration
		ok       bool
		timedOut bool
		want     string
	}{
		{"a panic becomes a failed result", declare(func(_ context.Context, c providers.Config, _ providers.Env) providers.Result {
			panic("boom with " + c["credentials"].(map[string]any)["password"].(string))
		}), time.Second, false, false, "the misbehaving check failed unexpectedly"},
		{"running out of time is marked", declare(func(ctx context.Context, _ providers.Config, _ providers.Env) providers.Result {
			<-ctx.Done()
			return providers.Result{}
		}), 20 * time.Millisecond, false, true, "did not answer before the check's deadline"},
		{"an echoed secret is scrubbed", declare(func(_ context.Context, _ providers.Config, _ providers.Env) providers.Result {
			return providers.Result{Message: "refused " + secret, Steps: []providers.Step{
				{Name: "step " + secret, Status: providers.StepFailed, Message: "token=" + secret}}}
		}), time.Second, false, false, "refused ***REDACTED***"},
		{"success stays success", declare(func(context.Context, providers.Config, providers.Env) providers.Result {
			return providers.Result{Success: true, Message: "fine", Steps: []providers.Step{{Name: "x", Status: providers.StepPassed, Message: "ok"}}}
		}), time.Second, true, false, "fine"},
		{"no check at all", &providers.Provider{Type: "unchecked"}, time.Second, false, false, "no connectivity check exists for unchecked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			res := providers.Run(ctx, tc.p, cfg, providers.Env{})
			if res.Success != tc.ok || res.TimedOut != tc.timedOut || !strings.Contains(res.Message, tc.want) {
				t.Fatalf("got %+v, want success=%v timedOut=%v %q", res, tc.ok, tc.timedOut, tc.want)
			}
			assertNoSecret(t, res, secret)
		})
	}
}

// localEnv lets checks reach loopback doubles, as tests need.
func localEnv(endpoints map[string]string) providers.Env {
	return providers.NewEnv(providers.EnvOptions{AllowPrivateNetworks: true, LoopbackOnly: true, Timeout: 5 * time.Second, Endpoints: endpoints})
}

// run runs a check through providers.Run, as the server does. Run scrubs
// the config's secrets from the result, so a test that asserts no secret
// leaks uses rawCheck instead.
func run(t *testing.T, providerType string, cfg providers.Config, env providers.Env) providers.Result {
	t.Helper()
	p, ok := providers.Lookup(providerType)
	if !ok {
		t.Fatalf("provider %s is not registered", providerType)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return providers.Run(ctx, p, cfg, env)
}
