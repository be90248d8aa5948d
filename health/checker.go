// Package health is the background health checker: it runs the provider
// check of every ACTIVE connection that is due, records the outcome through
// the lifecycle rule (connvault.Health.AfterCheck) and so moves connections
// that keep failing to FAILED.
//
// Several replicas may run it against one database: due rows are claimed
// with FOR UPDATE SKIP LOCKED and held by a lease, so no two checkers check
// one connection at once, and a replica that dies mid-check only delays its
// rows until the lease runs out.
package health

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/store"
)

// Config tunes a Checker.
type Config struct {
	// Owner names this checker in leases; unique per process.
	Owner string
	// Schedule decides when connections are due again.
	Schedule connvault.Schedule
	// Concurrency bounds checks in flight (default 4).
	Concurrency int
	// CheckTimeout bounds one check (default connvault.DefaultCheckTimeout).
	CheckTimeout time.Duration
	// Lease is how long a claimed row stays ours (default 3 × CheckTimeout):
	// longer than a check can take, short enough that a dead replica's
	// rows are picked up soon.
	Lease time.Duration
	// Batch is the most rows one claim takes (default Concurrency), so a
	// replica does not hoard work the others could share. A claim takes no
	// more rows than there are free slots: a claimed row starts its check
	// at once, so its lease covers the check, not a wait in a queue.
	Batch int
	// Poll is how often Run looks for due connections (default 30s).
	Poll time.Duration
	Env  providers.Env
	Log  *slog.Logger
}

// Checker runs background health checks.
type Checker struct {
	store *store.Store
	cfg   Config
}

// New builds a checker.
func New(st *store.Store, cfg Config) *Checker {
	if cfg.Owner == "" {
		cfg.Owner = "checker-" + connvault.NewUserID()[4:]
	}
	if cfg.Schedule.Interval <= 0 || cfg.Schedule.Backoff <= 0 {
		cfg.Schedule = connvault.DefaultSchedule
	}
	if cfg.Schedule.Jitter == nil {
		cfg.Schedule.Jitter = rand.Float64
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = connvault.DefaultCheckTimeout
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 3 * cfg.CheckTimeout
	}
	if cfg.Batch <= 0 {
		cfg.Batch = cfg.Concurrency
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Checker{store: st, cfg: cfg}
}

// Stats counts what one pass did.
type Stats struct {
	Checked, Passed, Failed, Disabled, LeaseLost int
}

// RunOnce checks every connection that is due now, then returns. Rows that
// become due while it runs wait for the next pass.
func (c *Checker) RunOnce(ctx context.Context) (Stats, error) {
	var (
		mu    sync.Mutex
		stats Stats
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, c.cfg.Concurrency)
	started := time.Now()
	for ctx.Err() == nil {
		// Claim only for the slots free now (one at least, waited for):
		// rows claimed for a queue waited under their lease, which could
		// run out before their check started, and the next claim took
		// them again beside it.
		sem <- struct{}{}
		free := min(c.cfg.Batch, 1+cap(sem)-len(sem))
		// Due by the pass's start: a connection whose backoff ends while
		// the pass runs waits for the next pass, not checked twice in one.
		batch, err := c.store.ClaimDue(ctx, c.cfg.Owner, c.cfg.Lease, free, started)
		if err != nil || len(batch) == 0 {
			<-sem
			if err != nil {
				wg.Wait()
				return stats, err
			}
			break
		}
		for i, conn := range batch {
			if i > 0 {
				sem <- struct{}{} // free when claimed: slots only free up since
			}
			wg.Go(func() {
				defer func() { <-sem }()
				outcome := c.check(ctx, conn)
				mu.Lock()
				defer mu.Unlock()
				switch outcome {
				case passed:
					stats.Checked++
					stats.Passed++
				case failed, disabled:
					stats.Checked++
					stats.Failed++
					if outcome == disabled {
						stats.Disabled++
					}
				case leaseLost:
					stats.LeaseLost++
				}
			})
		}
	}
	wg.Wait()
	c.cfg.Log.Info("health pass done", "owner", c.cfg.Owner, "checked", stats.Checked, "failed", stats.Failed,
		"disabled", stats.Disabled, "duration_ms", time.Since(started).Milliseconds())
	return stats, ctx.Err()
}

type outcome int

const (
	aborted outcome = iota
	passed
	failed
	disabled
	leaseLost
)

func (c *Checker) check(ctx context.Context, conn *connvault.Connection) outcome {
	log := c.cfg.Log.With("org", conn.OrgID, "connection_id", conn.ID, "provider_type", conn.ProviderType)
	p, ok := providers.Lookup(conn.ProviderType)
	if !ok {
		log.Error("no provider for stored connection")
		return aborted
	}
	sealed, err := c.store.Sealed(ctx, conn)
	if err != nil {
		log.Error("cannot read the stored config", "error", err.Error())
		return aborted
	}
	checkCtx, cancel := context.WithTimeout(ctx, c.cfg.CheckTimeout)
	res := providers.Run(checkCtx, p, sealed.Plain(), c.cfg.Env)
	cancel()
	if res.Rotated != nil {
		// The check spent the stored refresh token: keep the new one, even
		// while shutting down.
		rotated, err := c.store.StoreRotated(context.WithoutCancel(ctx), conn, providers.Seal(p, res.Rotated))
		if err == nil {
			conn = rotated // what is stored now is what was checked
		}
		if errors.Is(err, store.ErrSecretsChangedMeanwhile) {
			// The outcome is of credentials replaced meanwhile: not theirs
			// to record. The row is checked again once the lease runs out.
			log.Info("credentials changed during the check; its outcome is dropped")
			return aborted
		}
		if err != nil {
			log.Error("rotated secrets not stored", "error", err.Error())
		}
	}
	if ctx.Err() != nil {
		// Shutting down: leave the row leased; it is checked again once
		// the lease runs out, by us or another replica.
		return aborted
	}
	// The check and any status change it causes are recorded with it; the
	// actor is connvault itself (no user, no key).
	checked := store.NewEvent{OrgID: conn.OrgID, Action: connvault.ActionChecked, ConnectionID: conn.ID, Details: map[string]any{"success": res.Success}}
	saved, err := c.store.RecordCheck(ctx, conn, res.Success, res.Message, c.cfg.Schedule, c.cfg.Owner,
		store.HealthAudit{Events: []store.NewEvent{checked}})
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		log.Warn("lease lost: another checker owns this connection now")
		return leaseLost
	case errors.Is(err, store.ErrCheckedConfigChanged):
		// Checked again once the lease runs out, as it is now.
		log.Info("config changed during the check; its outcome is dropped")
		return aborted
	case err != nil:
		log.Error("cannot record check", "error", err.Error())
		return aborted
	}
	switch {
	case res.Success:
		return passed
	case conn.TransitionTo(saved.Health) == connvault.Disabled:
		log.Warn("connection disabled", "consecutive_failures", saved.ConsecutiveFailures, "last_error", res.Message)
		return disabled
	}
	log.Info("check failed", "consecutive_failures", saved.ConsecutiveFailures, "last_error", res.Message)
	return failed
}

// Run runs passes every Poll until ctx ends.
func (c *Checker) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := c.RunOnce(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Log.Error("health pass failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
