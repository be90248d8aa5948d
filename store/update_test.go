package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/store"
)

// An update writes its audit events and drops the tokens issued from
// replaced credentials in its own statement: with the change, or, when
// the change is refused (stale) or any part of the statement fails, none
// of it.
func TestUpdateWritesItsEventsAndDropsIssuedTokensWithTheChange(t *testing.T) {
	ctx := context.Background()
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	c := createS3(t, st, tn, "update-atomic", "update-secret-1")
	token := func() {
		t.Helper()
		now := time.Now().UTC().Truncate(time.Microsecond)
		cached := store.CachedCredentials{Credentials: json.RawMessage(`{"access_token": "t"}`), IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		if _, err := st.SaveIssued(ctx, c, cached, nil); err != nil {
			t.Fatal(err)
		}
	}
	hasToken := func() bool {
		t.Helper()
		cached, err := st.CachedCredentials(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return cached != nil
	}
	events := func() []string {
		t.Helper()
		page, err := st.ListEvents(ctx, store.EventFilter{OrgID: tn.OrgID, ConnectionID: &c.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []string // oldest first
		for i := len(page.Events) - 1; i >= 0; i-- {
			e := page.Events[i]
			out = append(out, string(e.Action)+" "+string(e.Details)+" "+*e.RequestID)
		}
		return out
	}
	ev := func(action connvault.Action, requestID string, details map[string]any) store.NewEvent {
		return store.NewEvent{OrgID: tn.OrgID, Action: action, ConnectionID: c.ID, ActorUserID: tn.UserID, RequestID: requestID, Details: details}
	}
	update := func(desc string, change *store.ConfigChange, evs ...store.NewEvent) (*connvault.Connection, error) {
		next := *c
		next.Description = &desc
		return st.UpdateConnection(ctx, &next, change, evs...)
	}
	sealedWith := func(secret string) *store.ConfigChange {
		sealed, err := st.Sealed(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		sealed.Secrets = connvault.SecretsFrom(map[string]any{"credentials": map[string]any{"secret_access_key": secret}})
		return &store.ConfigChange{Config: sealed}
	}

	// Two events, in order, with the change; a token outlives a change
	// that keeps the secret values (a key rotation).
	token()
	rotation, err := st.Sealed(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	updated, err := update("first", &store.ConfigChange{Config: rotation, SameValues: true},
		ev(connvault.ActionUpdated, "req_one", map[string]any{"fields": []string{"description"}}),
		ev(connvault.ActionStatusChanged, "req_one", map[string]any{"from": "ACTIVE", "to": "ACTIVE"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`connection.updated {"fields": ["description"]} req_one`,
		`connection.status_changed {"to": "ACTIVE", "from": "ACTIVE"} req_one`,
	}
	if got := events(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events after the update:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !hasToken() {
		t.Fatal("a key rotation's update dropped the issued token")
	}

	// Stale: nothing is written, no event, the token stays.
	if _, err := update("stale", sealedWith("update-secret-2"), ev(connvault.ActionUpdated, "req_stale", nil)); !errors.Is(err, store.ErrStale) {
		t.Fatalf("an update of a stale version: %v", err)
	}
	if got := events(); len(got) != 2 || !hasToken() {
		t.Fatalf("a stale update wrote: events %q, token kept %v", got, hasToken())
	}
	c = updated

	// The audit insert fails (a trigger refuses this request's event): the
	// change, the new secret and the dropped token are undone with it.
	pool := connvaulttest.Pool(t)
	if _, err := pool.Exec(ctx, `CREATE FUNCTION refuse_update_atomic_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.request_id = 'req_refused_update_atomic' THEN RAISE EXCEPTION 'refused by the test'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_update_atomic_event BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_update_atomic_event();`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DROP TRIGGER IF EXISTS refuse_update_atomic_event ON events; DROP FUNCTION IF EXISTS refuse_update_atomic_event()`)
	})
	if _, err := update("refused", sealedWith("update-secret-3"), ev(connvault.ActionUpdated, "req_refused_update_atomic", nil)); err == nil {
		t.Fatal("an update whose event was refused succeeded")
	}
	now, err := st.GetConnection(ctx, tn.OrgID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := st.Secrets(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := json.Marshal(secrets.Plain())
	if now.Version != c.Version || *now.Description != "first" || !strings.Contains(string(stored), "update-secret-1") || !hasToken() || len(events()) != 2 {
		t.Fatalf("a failed update left: version %d (want %d), description %q, token %v, %d events", now.Version, c.Version, *now.Description, hasToken(), len(events()))
	}

	// New secret values drop the token, with their event.
	if _, err := update("second", sealedWith("update-secret-4"), ev(connvault.ActionUpdated, "req_two", map[string]any{"fields": []string{"provider_config.credentials.secret_access_key"}})); err != nil {
		t.Fatal(err)
	}
	if hasToken() {
		t.Fatal("new credentials left the token issued from the old ones")
	}
	if got := events(); len(got) != 3 || !strings.HasPrefix(got[2], "connection.updated") || !strings.HasSuffix(got[2], "req_two") {
		t.Fatalf("events: %q", got)
	}

	// Events of another connection or actor are refused before anything is written.
	other := ev(connvault.ActionUpdated, "req_x", nil)
	other.ConnectionID = "conn_000000000000000"
	if _, err := update("third", nil, other); err == nil {
		t.Fatal("an event of another connection was accepted")
	}
	second := ev(connvault.ActionUpdated, "req_y", nil)
	second.ActorUserID = "usr_someoneelse00000"
	if _, err := update("third", nil, ev(connvault.ActionUpdated, "req_y", nil), second); err == nil {
		t.Fatal("events of two actors were accepted")
	}
}

// A token the provider issued from credentials that a change replaced
// while it was issuing is handed to its caller but not cached: the change
// dropped the cached token before this one was saved, and the next issue
// must not be given a token of the old credentials.
func TestTokenIssuedFromReplacedCredentialsIsNotCached(t *testing.T) {
	ctx := context.Background()
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	c := createS3(t, st, tn, "issued-then-replaced", "replaced-secret-1")

	// The issue started from c; new credentials commit meanwhile.
	sealed, err := st.Sealed(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	sealed.Secrets = connvault.SecretsFrom(map[string]any{"credentials": map[string]any{"secret_access_key": "replaced-secret-2"}})
	changed, err := st.UpdateConnection(ctx, c, &store.ConfigChange{Config: sealed}, store.NewEvent{OrgID: tn.OrgID,
		Action: connvault.ActionUpdated, ConnectionID: c.ID, ActorUserID: tn.UserID, RequestID: "req_replace"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	token := store.CachedCredentials{Credentials: json.RawMessage(`{"access_token": "from-the-old-secret"}`), IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	if _, err := st.SaveIssued(ctx, c, token, nil); err != nil {
		t.Fatal(err)
	}
	if cached, err := st.CachedCredentials(ctx, changed); err != nil || cached != nil {
		t.Fatalf("a token issued from replaced credentials was cached: %+v, %v", cached, err)
	}

	// One issued from the connection as it is now is.
	token.Credentials = json.RawMessage(`{"access_token": "from-the-new-secret"}`)
	if _, err := st.SaveIssued(ctx, changed, token, nil); err != nil {
		t.Fatal(err)
	}
	if cached, err := st.CachedCredentials(ctx, changed); err != nil || cached == nil || string(cached.Credentials) != string(token.Credentials) {
		t.Fatalf("a token issued from the current credentials: %+v, %v", cached, err)
	}
}

// A secret a provider rotated while it was asked (a new refresh token) is
// stored over the secrets it was issued from, whatever else changed
// meanwhile; not over credentials a PATCH saved meanwhile (the token
// belongs to the ones they replaced), and not into an archived connection.
func TestRotatedSecretsDoNotOverwriteCredentialsSavedMeanwhile(t *testing.T) {
	ctx := context.Background()
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	secretOf := func(c *connvault.Connection) string {
		t.Helper()
		s, err := st.Secrets(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(s.Plain())
		return string(raw)
	}
	rotated := func(c *connvault.Connection, secret string) connvault.SealedConfig {
		t.Helper()
		sealed, err := st.Sealed(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		sealed.Secrets = connvault.SecretsFrom(map[string]any{"credentials": map[string]any{"secret_access_key": secret}})
		return sealed
	}
	change := func(c *connvault.Connection, description string, cfg *store.ConfigChange) *connvault.Connection {
		t.Helper()
		next := *c
		next.Description = &description
		out, err := st.UpdateConnection(ctx, &next, cfg, store.NewEvent{OrgID: tn.OrgID, Action: connvault.ActionUpdated,
			ConnectionID: c.ID, ActorUserID: tn.UserID, RequestID: "req_" + description})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// Only the description changed meanwhile: the rotation is stored.
	c := createS3(t, st, tn, "rotated meanwhile", "rotation-secret-1")
	described := change(c, "described", nil)
	if _, err := st.StoreRotated(ctx, c, rotated(c, "rotation-secret-2")); err != nil {
		t.Fatal(err)
	}
	if got := secretOf(described); !strings.Contains(got, "rotation-secret-2") {
		t.Fatalf("a rotation after a description change: %s", got)
	}

	// New credentials saved meanwhile stand.
	read, err := st.GetConnection(ctx, tn.OrgID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	replaced := change(read, "replaced", &store.ConfigChange{Config: rotated(read, "saved-by-the-user")})
	if _, err := st.StoreRotated(ctx, read, rotated(read, "rotation-secret-3")); !errors.Is(err, store.ErrSecretsChangedMeanwhile) {
		t.Fatalf("a rotation of replaced credentials: %v", err)
	}
	if got := secretOf(replaced); !strings.Contains(got, "saved-by-the-user") {
		t.Fatalf("the user's credentials were overwritten: %s", got)
	}

	// An archived connection gets no secrets back.
	now, err := st.GetConnection(ctx, tn.OrgID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	late := rotated(now, "rotation-secret-4")
	if _, err := st.ArchiveConnection(ctx, now, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.StoreRotated(ctx, now, late); !errors.Is(err, store.ErrSecretsChangedMeanwhile) {
		t.Fatalf("a rotation into an archived connection: %v", err)
	}
	var rows int
	if err := connvaulttest.Pool(t).QueryRow(ctx, `SELECT count(*) FROM connection_secrets WHERE connection_id = $1`, c.ID).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("an archived connection's secrets: %d rows, %v", rows, err)
	}
}

// A check's outcome is recorded against the config and credentials it
// checked: a PATCH that changed them while it ran leaves the outcome
// unrecorded (the new ones are untested), while a usage report meanwhile,
// which changes only health, does not.
func TestCheckOutcomesOfAReplacedConfigAreNotRecorded(t *testing.T) {
	ctx := context.Background()
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	sched := connvault.Schedule{Interval: time.Hour, Backoff: time.Minute}
	checked := createS3(t, st, tn, "checked meanwhile", "checked-secret-1")

	if _, err := st.RecordUsage(ctx, tn.OrgID, checked.ID, true, "", sched, store.HealthAudit{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordCheck(ctx, checked, false, "refused", sched, "", store.HealthAudit{}); err != nil {
		t.Fatalf("a check after a usage report: %v", err)
	}

	read, err := st.GetConnection(ctx, tn.OrgID, checked.ID)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := st.Sealed(ctx, read)
	if err != nil {
		t.Fatal(err)
	}
	sealed.Secrets = connvault.SecretsFrom(map[string]any{"credentials": map[string]any{"secret_access_key": "checked-secret-2"}})
	replaced, err := st.UpdateConnection(ctx, read, &store.ConfigChange{Config: sealed}, store.NewEvent{OrgID: tn.OrgID,
		Action: connvault.ActionUpdated, ConnectionID: read.ID, ActorUserID: tn.UserID, RequestID: "req_checked_meanwhile"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordCheck(ctx, read, false, "refused again", sched, "", store.HealthAudit{}); !errors.Is(err, store.ErrCheckedConfigChanged) {
		t.Fatalf("a check of replaced credentials: %v", err)
	}
	now, err := st.GetConnection(ctx, tn.OrgID, checked.ID)
	if err != nil {
		t.Fatal(err)
	}
	if now.ConsecutiveFailures != replaced.ConsecutiveFailures || now.Version != replaced.Version {
		t.Fatalf("the outcome of replaced credentials was recorded: %d failures (want %d), version %d (want %d)",
			now.ConsecutiveFailures, replaced.ConsecutiveFailures, now.Version, replaced.Version)
	}
}

// Events are kept in whole days: a retention under one day would be zero
// days, every event; it expires nothing and says so.
func TestEventRetentionUnderADayExpiresNothing(t *testing.T) {
	ctx := context.Background()
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	c := createS3(t, st, tn, "retained", "retained-secret")
	if err := st.RecordEvent(ctx, store.NewEvent{OrgID: tn.OrgID, Action: connvault.ActionUpdated, ConnectionID: c.ID,
		ActorUserID: tn.UserID, RequestID: "req_retained"}); err != nil {
		t.Fatal(err)
	}
	n, err := st.ExpireEvents(ctx, 12*time.Hour)
	if err == nil || n != 0 {
		t.Fatalf("a retention of 12h: %d expired, %v", n, err)
	}
	page, err := st.ListEvents(ctx, store.EventFilter{OrgID: tn.OrgID, ConnectionID: &c.ID, Limit: 10})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("events after a refused expiry: %d, %v", len(page.Events), err)
	}
}
