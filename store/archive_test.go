package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
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
				got, err := st.ArchiveConnection(ctx, c)
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
