package connvault

import (
	"time"
	"unicode/utf8"
)

// FailureThreshold is how many consecutive failed checks move an ACTIVE
// connection to FAILED, so a bad credential stops hammering the provider
// before it locks the account.
const FailureThreshold = 5

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
}

// IsActive is true exactly when the status is ACTIVE.
func (h Health) IsActive() bool { return h.Status == StatusActive }

// AfterCheck is the lifecycle rule for a check outcome, in one place. A
// success resets the failure count and error and brings FAILED back to
// ACTIVE; a failure counts, stores the (already scrubbed) message truncated
// to MaxErrorLength, and the FailureThreshold-th consecutive failure moves
// ACTIVE to FAILED. SUSPENDED and ARCHIVED never change here.
func (h Health) AfterCheck(ok bool, message string, now time.Time) Health {
	next := h
	next.LastCheckedAt = &now
	if ok {
		next.ConsecutiveFailures = 0
		next.LastError = nil
		next.LastUsedAt = &now
		if h.Status == StatusFailed {
			next.setStatus(StatusActive, "check passed", now)
		}
		return next
	}
	next.ConsecutiveFailures = h.ConsecutiveFailures + 1
	msg := Truncate(message, MaxErrorLength)
	next.LastError = &msg
	if h.Status == StatusActive && next.ConsecutiveFailures >= FailureThreshold {
		next.setStatus(StatusFailed, "5 consecutive failed checks", now)
	}
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
func (h Health) SetByUser(target Status, now time.Time) (Health, error) {
	switch {
	case h.Status == StatusArchived:
		return h, Errorf(ESTATE, "the connection is archived and can no longer change")
	case target != StatusActive && target != StatusSuspended:
		return h, &Error{Code: EINVALID, Message: "status may only be set to ACTIVE or SUSPENDED", Field: []string{"body", "status"}}
	case h.Status == target:
		return h, nil
	case h.Status == StatusFailed && target == StatusActive:
		return h, &Error{Code: EINVALID, Message: "a FAILED connection becomes ACTIVE again after a passing test (POST .../test) or a credential update that tests OK", Field: []string{"body", "status"}}
	}
	next := h
	reason := "suspended by user"
	if target == StatusActive {
		reason = "resumed by user"
	}
	next.setStatus(target, reason, now)
	return next, nil
}
