package server

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"strings"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
	"github.com/connvault/connvault/store"
)

// event is the audit event of action by the request's principal.
func event(ctx context.Context, action connvault.Action, connID string, details map[string]any) *store.NewEvent {
	who := principal(ctx)
	return &store.NewEvent{OrgID: who.OrgID, Action: action, ConnectionID: connID, ActorUserID: who.UserID,
		ActorKeyID: who.KeyID, RequestID: requestID(ctx), Details: details}
}

// actor is the request's caller as the author of audit events.
func actor(ctx context.Context) store.NewEvent { return *event(ctx, "", "", nil) }

// changedPaths names the leaves that differ between two configs, as
// provider_config.a.b: names only, so a secret's value never reaches the
// audit trail.
func changedPaths(before, after map[string]any, prefix string) []string {
	var out []string
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for k := range keys {
		b, a := before[k], after[k]
		bm, bok := b.(map[string]any)
		am, aok := a.(map[string]any)
		switch {
		case bok && aok:
			out = append(out, changedPaths(bm, am, prefix+k+".")...)
		case !reflect.DeepEqual(a, b):
			out = append(out, prefix+k)
		}
	}
	sort.Strings(out)
	return out
}

// events answers a page of the audit trail in the spec's shape.
func (s *Server) events(ctx context.Context, f store.EventFilter, action *gen.EventAction, since *gen.EventSince, limit *gen.EventLimit, cursor *gen.EventCursor) (gen.EventList, error) {
	f.OrgID = principal(ctx).OrgID
	f.Limit = 50
	if limit != nil {
		f.Limit = *limit
	}
	if action != nil {
		a := string(*action)
		f.Action = &a
	}
	if since != nil {
		t := since.UTC()
		f.Since = &t
	}
	if cursor != nil {
		f.Cursor = strings.TrimSpace(*cursor)
	}
	page, err := s.store.ListEvents(ctx, f)
	if err != nil {
		return gen.EventList{}, err
	}
	out := gen.EventList{Results: make([]gen.Event, 0, len(page.Events))}
	for _, e := range page.Events {
		ev := gen.Event{EventId: e.ID, Action: gen.EventAction(e.Action), OccurredAt: e.OccurredAt, ConnectionId: e.ConnectionID,
			RequestId: e.RequestID, Details: map[string]any{}}
		ev.Actor.UserId, ev.Actor.KeyId = e.ActorUserID, e.ActorKeyID
		if err := jsonUnmarshal(e.Details, &ev.Details); err != nil {
			return gen.EventList{}, err
		}
		out.Results = append(out.Results, ev)
	}
	if page.Next != "" {
		out.NextCursor = &page.Next
	}
	return out, nil
}

// ListEvents implements GET /v1/organizations/events.
func (s *Server) ListEvents(ctx context.Context, req gen.ListEventsRequestObject) (gen.ListEventsResponseObject, error) {
	p := req.Params
	page, err := s.events(ctx, store.EventFilter{}, p.Action, p.Since, p.Limit, p.Cursor)
	if err != nil {
		return nil, err
	}
	return gen.ListEvents200JSONResponse(page), nil
}

// ListConnectionEvents implements GET .../connections/{id}/events.
func (s *Server) ListConnectionEvents(ctx context.Context, req gen.ListConnectionEventsRequestObject) (gen.ListConnectionEventsResponseObject, error) {
	c, err := s.store.GetConnection(ctx, principal(ctx).OrgID, req.ConnectionIdentifier)
	if err != nil {
		return nil, err
	}
	p := req.Params
	page, err := s.events(ctx, store.EventFilter{ConnectionID: &c.ID}, p.Action, p.Since, p.Limit, p.Cursor)
	if err != nil {
		return nil, err
	}
	return gen.ListConnectionEvents200JSONResponse(page), nil
}

func jsonUnmarshal(raw []byte, v any) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, v)
}
