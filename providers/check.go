package providers

import (
	"context"
	"errors"
	"fmt"

	"github.com/connvault/connvault"
)

// Run runs p's check on a full config under ctx's deadline and makes its
// result safe to show: a panic becomes a failed result, running out of time
// is marked TimedOut, and every text is scrubbed of the config's secrets,
// even if the provider echoed one back.
func Run(ctx context.Context, p *Provider, cfg Config, env Env) (res Result) {
	secrets := SecretValues(p, cfg)
	defer func() {
		if r := recover(); r != nil {
			// The panic value is not shown: it may hold the config.
			msg := fmt.Sprintf("the %s check failed unexpectedly", p.Type)
			res = failStep("run check", msg)
		}
		if !res.Success && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.TimedOut = true
			if res.Message == "" {
				res.Message = "the provider did not answer before the check's deadline"
			}
		}
		// Scrubbed of secrets, then cleaned: a provider may answer with
		// bytes Postgres cannot store (a non-UTF-8 SQLSTATE, NUL), and the
		// message is stored as last_error and shown.
		res.Message = connvault.CleanText(Scrub(res.Message, secrets))
		for i := range res.Steps {
			res.Steps[i].Name = connvault.CleanText(Scrub(res.Steps[i].Name, secrets))
			res.Steps[i].Message = connvault.CleanText(Scrub(res.Steps[i].Message, secrets))
		}
	}()
	if p.Check == nil {
		return Result{Success: false, Message: "no connectivity check exists for " + p.Type}
	}
	return p.Check(ctx, cfg, env)
}
