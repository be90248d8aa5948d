package connvault_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault"
)

var (
	now   = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	sched = connvault.Schedule{Interval: 15 * time.Minute, Backoff: 5 * time.Minute}
)

func health(s connvault.Status, failures int) connvault.Health {
	h := connvault.Health{Status: s, ConsecutiveFailures: failures}
	if failures > 0 {
		msg := "earlier failure"
		h.LastError = &msg
	}
	return h
}

func TestAfterCheck(t *testing.T) {
	for _, tc := range []struct {
		name         string
		from         connvault.Health
		ok           bool
		wantStatus   connvault.Status
		wantFailures int
		wantNext     time.Duration // 0: no next check
	}{
		{"success keeps ACTIVE and resets", health(connvault.StatusActive, 3), true, connvault.StatusActive, 0, 15 * time.Minute},
		{"first failure counts and backs off 5m", health(connvault.StatusActive, 0), false, connvault.StatusActive, 1, 5 * time.Minute},
		{"second failure backs off 10m", health(connvault.StatusActive, 1), false, connvault.StatusActive, 2, 10 * time.Minute},
		{"fourth failure backs off 40m", health(connvault.StatusActive, 3), false, connvault.StatusActive, 4, 40 * time.Minute},
		{"fifth failure disables", health(connvault.StatusActive, 4), false, connvault.StatusFailed, 5, 0},
		{"FAILED keeps counting, not probed", health(connvault.StatusFailed, 5), false, connvault.StatusFailed, 6, 0},
		{"FAILED comes back on success", health(connvault.StatusFailed, 7), true, connvault.StatusActive, 0, 15 * time.Minute},
		{"SUSPENDED stays SUSPENDED on success", health(connvault.StatusSuspended, 2), true, connvault.StatusSuspended, 0, 0},
		{"SUSPENDED is not failed by checks", health(connvault.StatusSuspended, 4), false, connvault.StatusSuspended, 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.from.AfterCheck(tc.ok, "boom", now, sched)
			if got.Status != tc.wantStatus || got.ConsecutiveFailures != tc.wantFailures {
				t.Fatalf("got %s/%d, want %s/%d", got.Status, got.ConsecutiveFailures, tc.wantStatus, tc.wantFailures)
			}
			if got.IsActive() != (tc.wantStatus == connvault.StatusActive) {
				t.Error("IsActive disagrees with status")
			}
			if got.LastCheckedAt == nil || !got.LastCheckedAt.Equal(now) {
				t.Error("last_checked_at not recorded")
			}
			if tc.ok {
				if got.LastError != nil || got.LastUsedAt == nil {
					t.Errorf("success: last_error %v last_used_at %v", got.LastError, got.LastUsedAt)
				}
			} else if got.LastError == nil || *got.LastError != "boom" {
				t.Errorf("failure: last_error %v", got.LastError)
			}
			switch {
			case tc.wantNext == 0 && got.NextCheckAt != nil:
				t.Errorf("next check at %v, want none", got.NextCheckAt)
			case tc.wantNext != 0 && (got.NextCheckAt == nil || !got.NextCheckAt.Equal(now.Add(tc.wantNext))):
				t.Errorf("next check at %v, want %v", got.NextCheckAt, now.Add(tc.wantNext))
			}
			if got.Status != tc.from.Status && (got.StatusReason == nil || got.StatusChangedAt == nil) {
				t.Error("status changed without reason and time")
			}
		})
	}
}

func TestFiveFailuresSpanOverAnHourByDefault(t *testing.T) {
	h := health(connvault.StatusActive, 0)
	at := now
	for range connvault.FailureThreshold {
		h = h.AfterCheck(false, "down", at, connvault.DefaultSchedule)
		if h.NextCheckAt != nil {
			at = *h.NextCheckAt
		}
	}
	if h.Status != connvault.StatusFailed {
		t.Fatalf("status = %s", h.Status)
	}
	if span := h.LastCheckedAt.Sub(now); span < time.Hour {
		t.Errorf("five failures span %v, want over an hour", span)
	}
}

func TestLastErrorIsTruncated(t *testing.T) {
	h := health(connvault.StatusActive, 0).AfterCheck(false, strings.Repeat("é", 1500), now, sched)
	if n := len([]rune(*h.LastError)); n != connvault.MaxErrorLength {
		t.Errorf("last_error has %d characters", n)
	}
}

func TestJitterSpreadsWithinTenPercent(t *testing.T) {
	s := sched
	s.Jitter = func() float64 { return 0.999 }
	next := s.Next(health(connvault.StatusActive, 0), now)
	if d := next.Sub(now); d > 15*time.Minute || d < 13*time.Minute+30*time.Second {
		t.Errorf("jittered wait %v", d)
	}
}

func TestSetByUser(t *testing.T) {
	for _, tc := range []struct {
		name    string
		from    connvault.Status
		to      connvault.Status
		want    connvault.Status
		wantErr string
	}{
		{"suspend", connvault.StatusActive, connvault.StatusSuspended, connvault.StatusSuspended, ""},
		{"resume", connvault.StatusSuspended, connvault.StatusActive, connvault.StatusActive, ""},
		{"suspend a failed one", connvault.StatusFailed, connvault.StatusSuspended, connvault.StatusSuspended, ""},
		{"no-op", connvault.StatusActive, connvault.StatusActive, connvault.StatusActive, ""},
		{"FAILED to ACTIVE by decree", connvault.StatusFailed, connvault.StatusActive, "", connvault.EINVALID},
		{"set FAILED", connvault.StatusActive, connvault.StatusFailed, "", connvault.EINVALID},
		{"set ARCHIVED", connvault.StatusActive, connvault.StatusArchived, "", connvault.EINVALID},
		{"change ARCHIVED", connvault.StatusArchived, connvault.StatusActive, "", connvault.ESTATE},
		{"resume what was FAILED when suspended", connvault.StatusSuspended, connvault.StatusActive, "", connvault.EINVALID},
		{"suspend again what was FAILED", connvault.StatusSuspended, connvault.StatusSuspended, connvault.StatusSuspended, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failures := 0
			if strings.Contains(tc.name, "was FAILED") {
				failures = connvault.FailureThreshold + 1
			}
			got, err := health(tc.from, failures).SetByUser(tc.to, now, sched)
			if tc.wantErr != "" {
				if connvault.ErrorCode(err) != tc.wantErr {
					t.Fatalf("err = %v, want code %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Status != tc.want {
				t.Fatalf("got %s, %v; want %s", got.Status, err, tc.want)
			}
			if tc.from != tc.to && (got.NextCheckAt != nil) != (got.Status == connvault.StatusActive) {
				t.Errorf("next check %v for %s", got.NextCheckAt, got.Status)
			}
		})
	}
}

func TestNewHealth(t *testing.T) {
	untested := connvault.NewHealth(now, false, sched)
	if untested.Status != connvault.StatusActive || untested.LastCheckedAt != nil || untested.NextCheckAt == nil || !untested.NextCheckAt.Equal(now) {
		t.Errorf("untested: %+v", untested)
	}
	tested := connvault.NewHealth(now, true, sched)
	if tested.LastCheckedAt == nil || tested.LastUsedAt == nil || !tested.LastUsedAt.Equal(now) || tested.NextCheckAt == nil {
		t.Errorf("tested: %+v", tested)
	}
}

func TestArchivedIsTerminal(t *testing.T) {
	h, already := health(connvault.StatusFailed, 6).Archive(now)
	if already || h.Status != connvault.StatusArchived || h.NextCheckAt != nil || h.StatusReason == nil {
		t.Fatalf("archive: %+v %v", h, already)
	}
	if _, again := h.Archive(now.Add(time.Hour)); !again {
		t.Error("archiving twice changed it again")
	}
	if err := h.Mutable(); connvault.ErrorCode(err) != connvault.ESTATE {
		t.Errorf("Mutable of archived: %v", err)
	}
	if err := health(connvault.StatusSuspended, 0).Mutable(); err != nil {
		t.Errorf("Mutable of suspended: %v", err)
	}
}

func TestTransitionTo(t *testing.T) {
	active, failed := health(connvault.StatusActive, 4), health(connvault.StatusFailed, 5)
	if got := active.TransitionTo(active.AfterCheck(false, "x", now, sched)); got != connvault.Disabled {
		t.Errorf("fifth failure: %q", got)
	}
	if got := failed.TransitionTo(failed.AfterCheck(true, "", now, sched)); got != connvault.Recovered {
		t.Errorf("pass after FAILED: %q", got)
	}
	if got := active.TransitionTo(active); got != connvault.Unchanged {
		t.Errorf("no change: %q", got)
	}
	if r := *active.AfterCheck(false, "x", now, sched).StatusReason; !strings.Contains(r, strconv.Itoa(connvault.FailureThreshold)) {
		t.Errorf("reason %q does not name the threshold", r)
	}
}

func TestAfterUse(t *testing.T) {
	checked := now.Add(-time.Hour)
	h := health(connvault.StatusActive, 4)
	h.LastCheckedAt = &checked
	failed := h.AfterUse(false, "sync failed", now, sched)
	if failed.Status != connvault.StatusFailed || failed.ConsecutiveFailures != 5 || *failed.LastError != "sync failed" || !failed.LastCheckedAt.Equal(checked) {
		t.Errorf("fifth failed use: %+v", failed)
	}
	ok := failed.AfterUse(true, "", now, sched)
	if ok.Status != connvault.StatusActive || ok.ConsecutiveFailures != 0 || !ok.LastUsedAt.Equal(now) || !ok.LastCheckedAt.Equal(checked) {
		t.Errorf("successful use: %+v", ok)
	}
	if got := health(connvault.StatusSuspended, 0).Untested(now); got.NextCheckAt != nil {
		t.Errorf("a suspended connection became due: %v", got.NextCheckAt)
	}
}
