package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/store/sqlcdb"
)

// NewEvent is what RecordEvent stores.
type NewEvent struct {
	OrgID        string
	Action       connvault.Action
	ConnectionID string // "" for organization-wide events
	ActorUserID  string // "" for connvault itself (the health checker)
	ActorKeyID   string
	RequestID    string
	// Details is encoded as a JSON object; callers put names and outcomes
	// in it, never values of secrets.
	Details map[string]any
}

// RecordEvent appends an event to the audit trail.
func (s *Store) RecordEvent(ctx context.Context, e NewEvent) error {
	return mapError(s.batched.InsertEvent(ctx, eventParams(e)), "event")
}

// with is a copy of e with extra details, which the store learns only
// while making the change (a new key's id).
func (e *NewEvent) with(extra map[string]any) NewEvent {
	out := *e
	out.Details = maps.Clone(e.Details)
	if out.Details == nil {
		out.Details = make(map[string]any, len(extra))
	}
	maps.Copy(out.Details, extra)
	return out
}

// insertEvents records the events of a change in the change's transaction,
// so that both happen or neither does.
func insertEvents(ctx context.Context, q *sqlcdb.Queries, events []NewEvent) error {
	for _, e := range events {
		if err := q.InsertEvent(ctx, eventParams(e)); err != nil {
			return err
		}
	}
	return nil
}

func eventParams(e NewEvent) sqlcdb.InsertEventParams {
	return sqlcdb.InsertEventParams{
		InternalID: e.OrgID, Action: string(e.Action), ConnectionID: orNil(e.ConnectionID),
		ActorUserID: orNil(e.ActorUserID), ActorKeyID: orNil(e.ActorKeyID), RequestID: orNil(e.RequestID), Details: eventDetails(e.Details),
	}
}

// eventDetails encodes an event's details as a JSON object.
func eventDetails(details map[string]any) []byte {
	b, err := json.Marshal(details)
	if err != nil || string(b) == "null" {
		return []byte("{}")
	}
	return b
}

func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// EventFilter selects a page of events.
type EventFilter struct {
	OrgID        string
	ConnectionID *string
	Action       *string
	Since        *time.Time
	Limit        int
	// Cursor is the Next of the previous page ("" for the first).
	Cursor string
}

// EventPage is one page, newest first.
type EventPage struct {
	Events []*connvault.Event
	Next   string
}

// ListEvents answers a page of the audit trail.
func (s *Store) ListEvents(ctx context.Context, f EventFilter) (*EventPage, error) {
	p := sqlcdb.ListEventsParams{InternalID: f.OrgID, ConnectionID: f.ConnectionID, Action: f.Action, Since: f.Since,
		RowLimit: int32(f.Limit) + 1}
	if f.Cursor != "" {
		seq, err := strconv.ParseInt(strings.TrimPrefix(f.Cursor, "evt_"), 36, 64)
		if err != nil || !strings.HasPrefix(f.Cursor, "evt_") {
			return nil, connvault.Invalid([]string{"query", "cursor"}, "cursor is not one this server issued")
		}
		p.BeforeSeq = &seq
	}
	rows, err := s.q.ListEvents(ctx, p)
	if err != nil {
		return nil, mapError(err, "events")
	}
	page := &EventPage{Events: make([]*connvault.Event, 0, min(len(rows), f.Limit))}
	for i, r := range rows {
		if i == f.Limit {
			page.Next = eventID(rows[i-1].EventSeq)
			break
		}
		page.Events = append(page.Events, &connvault.Event{
			ID: eventID(r.EventSeq), OrgID: r.InternalID, Action: connvault.Action(r.Action), OccurredAt: r.OccurredAt.UTC(),
			ConnectionID: r.ConnectionID, ActorUserID: r.ActorUserID, ActorKeyID: r.ActorKeyID, RequestID: r.RequestID, Details: r.Details,
		})
	}
	return page, nil
}

// eventID names an event by its sequence number (base 36, fixed width, so
// ids sort like the events).
func eventID(seq int64) string {
	return fmt.Sprintf("evt_%013s", strconv.FormatInt(seq, 36))
}

// MinEventRetention is the shortest event retention: events are kept in
// whole days.
const MinEventRetention = 24 * time.Hour

// ExpireEvents deletes events older than retention (in whole days) and
// answers how many. A retention under MinEventRetention deletes nothing
// and is an error: it would be zero days, which is every event.
func (s *Store) ExpireEvents(ctx context.Context, retention time.Duration) (int64, error) {
	if retention < MinEventRetention {
		return 0, fmt.Errorf("event retention %s is under %s: no event expired", retention, MinEventRetention)
	}
	n, err := s.q.ExpireEvents(ctx, int32(retention/(24*time.Hour)))
	return n, mapError(err, "events")
}

// Sweep deletes what has outlived its use: events older than retention and
// idempotency keys older than a day. Every replica may run it.
func (s *Store) Sweep(ctx context.Context, retention time.Duration) (events, keys int64, err error) {
	if events, err = s.ExpireEvents(ctx, retention); err != nil {
		return 0, 0, err
	}
	keys, err = s.q.ExpireIdempotencyKeys(ctx)
	return events, keys, mapError(err, "idempotency keys")
}
