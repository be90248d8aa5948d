package server

import (
	"context"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
	"github.com/connvault/connvault/providers"
)

// checkOutcome is a finished connectivity check, ready to show.
type checkOutcome struct {
	providers.Result
	Duration time.Duration
	At       time.Time
}

// runCheck runs the provider's check on a full (plaintext) config under the
// configured deadline. The result's texts are scrubbed of the config's
// secret values by providers.Run.
func (s *Server) runCheck(ctx context.Context, p *providers.Provider, cfg providers.Config) checkOutcome {
	// Not cut short by a client that leaves: an exchange may spend a
	// refresh token, and only its answer holds the new one.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CheckTimeout)
	defer cancel()
	start := time.Now()
	res := providers.Run(ctx, p, cfg, s.cfg.Env)
	return checkOutcome{Result: res, Duration: time.Since(start), At: start.UTC()}
}

// refusal turns a failed check before a save into the error the client
// gets: 504 when it ran out of time, 422 naming provider_config otherwise.
func (o checkOutcome) refusal() error {
	if o.TimedOut {
		return connvault.Errorf(connvault.ETIMEOUT, "connection test timed out: %s", o.Message)
	}
	msg := "connection test failed: " + o.Message
	return &connvault.Error{Code: connvault.EINVALID, Message: msg,
		Fields: []connvault.FieldError{{Type: "check_failed", Location: []string{"body", "provider_config"}, Message: msg}}}
}

func (o checkOutcome) response() gen.ConnectionTestResult {
	steps := make([]gen.TestStep, 0, len(o.Steps))
	for _, st := range o.Steps {
		steps = append(steps, gen.TestStep{Name: st.Name, Status: gen.TestStepStatus(st.Status), Message: st.Message})
	}
	return gen.ConnectionTestResult{
		Success: o.Success,
		Message: o.Message,
		Details: gen.TestDetails{Steps: steps, DurationMs: int(o.Duration.Milliseconds()), TestedAt: o.At},
	}
}
