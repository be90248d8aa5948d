package connvault

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// FailureThreshold is how many consecutive failed checks move an ACTIVE
// connection to FAILED, so a bad credential stops hammering the provider
// before it locks the account.
const FailureThreshold = 5

// DefaultCheckTimeout bounds a connectivity check unless configured
// otherwise (CONNVAULT_CHECK_TIMEOUT).
const DefaultCheckTimeout = 10 * time.Second

// MaxErrorLength bounds last_error, in characters.
const MaxErrorLength = 1000

// Health is the part of a connection the connectivity check changes.
type Health struct {
	Status              Status
	StatusReason        *string
	StatusChangedAt     *time.Time
	ConsecutiveFailures int
	LastError           *string
	LastUsedAt          *time.Time
	LastCheckedAt       *time.Time
	// NextCheckAt is when the background checker should look again; nil
	// when it should not (anything but ACTIVE).
	NextCheckAt *time.Time
}

// Schedule decides when an ACTIVE connection is checked next.
type Schedule struct {
	// Interval between checks of a healthy connection.
	Interval time.Duration
	// Backoff after the first failure; it doubles with each further
	// consecutive failure, so a provider outage of a few minutes does not
	// add up to five failures and disable a fleet of connections.
	Backoff time.Duration
	// Jitter returns a number in [0,1) that spreads checks over up to 10%
	// of the wait; nil means no jitter (tests).
	Jitter func() float64
}

// DefaultSchedule is used when none is configured: every 15 minutes, and
// after failures 5, 10, 20, 40 minutes, so five consecutive failures span
// well over an hour.
var DefaultSchedule = Schedule{Interval: 15 * time.Minute, Backoff: 5 * time.Minute}

// Next returns when to check a connection in state h again.
func (s Schedule) Next(h Health, now time.Time) *time.Time {
	if h.Status != StatusActive {
		return nil
	}
	wait := s.Interval
	if h.ConsecutiveFailures > 0 {
		wait = s.Backoff << min(h.ConsecutiveFailures-1, 16)
	}
	if wait <= 0 {
		wait = DefaultSchedule.Interval
	}
	if s.Jitter != nil {
		wait -= time.Duration(float64(wait) * 0.1 * s.Jitter())
	}
	t := now.Add(wait)
	return &t
}

// IsActive is true exactly when the status is ACTIVE.
func (h Health) IsActive() bool { return h.Status == StatusActive }

// NewHealth is a new connection's health: ACTIVE, with its first background
// check scheduled. checked says a check passed just before saving; it is
// recorded like any passing check. A connection saved untested is due at
// once: nothing has proved its credentials yet.
func NewHealth(now time.Time, checked bool, sched Schedule) Health {
	h := Health{Status: StatusActive, StatusChangedAt: &now}
	if !checked {
		return h.Untested(now)
	}
	h.LastCheckedAt, h.LastUsedAt = &now, &now
	h.NextCheckAt = sched.Next(h, now)
	return h
}

// Untested is the rule for credentials saved without a test (a create or a
// PATCH with test_before_save false): an ACTIVE connection is due for its
// background check at once.
func (h Health) Untested(now time.Time) Health {
	if h.Status == StatusActive {
		h.NextCheckAt = &now
	}
	return h
}

// AfterUse is the rule for what a sync worker reports: a success is a use
// (last_used_at, failures reset, FAILED back to ACTIVE), a failure counts
// towards FAILED like a failed check. It is not a check: last_checked_at
// stays.
func (h Health) AfterUse(ok bool, message string, now time.Time, sched Schedule) Health {
	next := h.AfterCheck(ok, message, now, sched)
	next.LastCheckedAt = h.LastCheckedAt
	return next
}

// Mutable is the rule that ARCHIVED is terminal, in one place: an archived
// connection cannot be changed, tested or checked.
func (h Health) Mutable() error {
	if h.Status == StatusArchived {
		return Errorf(ESTATE, "the connection is archived: it is kept for the record, without credentials, and can no longer change or be tested")
	}
	return nil
}

// Archive moves a connection to ARCHIVED for good; archived says it was
// already, in which case nothing changes.
func (h Health) Archive(now time.Time) (next Health, archived bool) {
	if h.Status == StatusArchived {
		return h, true
	}
	next = h
	next.setStatus(StatusArchived, "archived by user", now)
	next.NextCheckAt = nil
	return next, false
}

// Transition names the status change from h to next that a check caused.
type Transition string

// The status changes a check outcome can cause.
const (
	Unchanged Transition = ""
	// Disabled: ACTIVE to FAILED after FailureThreshold failed checks.
	Disabled Transition = "disabled"
	// Recovered: FAILED to ACTIVE after a passing check.
	Recovered Transition = "recovered"
)

// TransitionTo says which status change moving from h to next is.
func (h Health) TransitionTo(next Health) Transition {
	switch {
	case h.Status == StatusActive && next.Status == StatusFailed:
		return Disabled
	case h.Status == StatusFailed && next.Status == StatusActive:
		return Recovered
	}
	return Unchanged
}

// AfterCheck is the lifecycle rule for a check outcome, in one place. A
// success resets the failure count and error and brings FAILED back to
// ACTIVE; a failure counts, stores the (already scrubbed) message truncated
// to MaxErrorLength, and the FailureThreshold-th consecutive failure moves
// ACTIVE to FAILED. SUSPENDED and ARCHIVED never change here.
//
// The next background check is scheduled by sched: none unless ACTIVE.
func (h Health) AfterCheck(ok bool, message string, now time.Time, sched Schedule) Health {
	next := h
	next.LastCheckedAt = &now
	if ok {
		next.ConsecutiveFailures = 0
		next.LastError = nil
		next.LastUsedAt = &now
		if h.Status == StatusFailed {
			next.setStatus(StatusActive, "a check passed again", now)
		}
	} else {
		next.ConsecutiveFailures = h.ConsecutiveFailures + 1
		msg := Truncate(message, MaxErrorLength)
		next.LastError = &msg
		if h.Status == StatusActive && next.ConsecutiveFailures >= FailureThreshold {
			next.setStatus(StatusFailed, fmt.Sprintf("disabled after %d consecutive failed checks", FailureThreshold), now)
		}
	}
	next.NextCheckAt = sched.Next(next, now)
	return next
}

func (h *Health) setStatus(s Status, reason string, now time.Time) {
	h.Status = s
	h.StatusReason = &reason
	h.StatusChangedAt = &now
}

// Truncate cuts s to at most n characters without splitting a rune.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// SetByUser applies a status change asked for by a user: only ACTIVE and
// SUSPENDED may be asked for; a FAILED connection returns to ACTIVE through
// a passing check, not by decree; ARCHIVED is terminal.
func (h Health) SetByUser(target Status, now time.Time, sched Schedule) (Health, error) {
	if err := h.Mutable(); err != nil {
		return h, err
	}
	switch {
	case target != StatusActive && target != StatusSuspended:
		return h, Invalid([]string{"body", "status"}, "status may only be set to ACTIVE or SUSPENDED")
	case h.Status == target:
		return h, nil
	case h.Status == StatusFailed && target == StatusActive:
		return h, Invalid([]string{"body", "status"}, "a FAILED connection becomes ACTIVE again after a passing test (POST .../test) or a credential update that tests OK")
	case target == StatusActive && h.ConsecutiveFailures >= FailureThreshold:
		// Suspending a FAILED connection must not be a way around the rule
		// above: its failures are kept while suspended, and resuming waits
		// for a passing test just as leaving FAILED does.
		return h, Invalid([]string{"body", "status"}, "this connection's last checks failed (it was FAILED when suspended): it can be resumed after a passing test (POST .../test) or a credential update that tests OK")
	}
	next := h
	reason := "suspended by user"
	if target == StatusActive {
		reason = "resumed by user"
	}
	next.setStatus(target, reason, now)
	next.NextCheckAt = sched.Next(next, now)
	return next, nil
}
