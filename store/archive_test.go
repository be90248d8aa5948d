package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/store"
)

// Archiving is idempotent by id, also when two archives of a connection
// race: the one that finds it archived already answers the archived row.
func TestArchiveRacingArchiveAnswersTheArchivedRow(t *testing.T) {
	ctx := context.Background()
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	for i := range 30 {
		c := createS3(t, st, tn, fmt.Sprintf("archive race %d", i), "archive-race-secret")
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for j := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got, err := st.ArchiveConnection(ctx, c, nil)
				if err == nil && got.Status != connvault.StatusArchived {
					err = fmt.Errorf("answered %s", got.Status)
				}
				errs[j] = err
			}()
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("connection %d: an archive racing another: %v", i, err)
			}
		}
	}
}

// The archive's event names the status the connection was archived from,
// as locked by the archive, not as the caller read it: a change between
// the two (here a suspension) comes before it in the trail, and the
// archive says it archived a SUSPENDED connection.
func TestArchiveRecordsTheStatusItArchivedFrom(t *testing.T) {
	ctx := context.Background()
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	read := createS3(t, st, tn, "archived from", "archived-from-secret")

	suspended := *read
	h, err := read.Health.SetByUser(connvault.StatusSuspended, time.Now().UTC(), connvault.Schedule{Interval: time.Hour, Backoff: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	suspended.Health = h
	ev := func(action connvault.Action) *store.NewEvent {
		return &store.NewEvent{OrgID: tn.OrgID, Action: action, ConnectionID: read.ID, ActorUserID: tn.UserID, RequestID: "req_" + string(action)}
	}
	if _, err := st.UpdateConnection(ctx, &suspended, nil, *ev(connvault.ActionStatusChanged)); err != nil {
		t.Fatal(err)
	}
	got, err := st.ArchiveConnection(ctx, read, ev(connvault.ActionArchived))
	if err != nil || got.Status != connvault.StatusArchived {
		t.Fatalf("archive: %+v, %v", got, err)
	}
	page, err := st.ListEvents(ctx, store.EventFilter{OrgID: tn.OrgID, ConnectionID: &read.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 2 || page.Events[0].Action != connvault.ActionArchived || string(page.Events[0].Details) != `{"from": "SUSPENDED"}` {
		t.Fatalf("events, newest first: %+v", page.Events)
	}
}
