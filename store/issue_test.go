package store_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/store"
)

// createS3 creates an S3 connection with an access key whose secret is
// secret.
func createS3(t *testing.T, st *store.Store, tn connvaulttest.Tenant, name, secret string) *connvault.Connection {
	t.Helper()
	c, err := st.CreateConnection(context.Background(), store.NewConnection{
		OrgID: tn.OrgID, UserID: tn.UserID, Name: name, ProviderType: "s3",
		Config: connvault.SealedConfig{
			Config:  map[string]any{"bucket": "b", "credentials": map[string]any{"type": "access_key", "access_key_id": "AK", "secret_access_key": connvault.RedactedMarker}},
			Secrets: connvault.SecretsFrom(map[string]any{"credentials": map[string]any{"secret_access_key": secret}}),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createRSS stores an RSS connection without secrets.
func createRSS(t *testing.T, st *store.Store, tn connvaulttest.Tenant, name string) *connvault.Connection {
	t.Helper()
	c, err := st.CreateConnection(context.Background(), store.NewConnection{
		OrgID: tn.OrgID, UserID: tn.UserID, Name: name, ProviderType: "rss",
		Config: connvault.SealedConfig{Config: map[string]any{"feed_url": "https://feed.example.invalid/rss"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// An issue's lookup reads the connection with, in the same statement, its
// cached token while good or else its secrets as stored; secrets under a
// previous key are read with that key's passphrase.
func TestIssueLookup(t *testing.T) {
	ctx := context.Background()
	pool := connvaulttest.Pool(t)
	oldKey, newKey := "issue-old-"+strings.Repeat("o", 32), "issue-new-"+strings.Repeat("n", 32)
	old := store.New(pool, mustKeyring(t, oldKey))
	tn := connvaulttest.NewTenant(t, old)
	c := createS3(t, old, tn, "issuing", "issue-lookup-secret")
	const stored = `{"credentials": {"secret_access_key": "issue-lookup-secret"}}`
	secretsAre := func(m *store.IssueMaterial, want string) bool {
		if want == "" {
			return m.Secrets == ""
		}
		var got, exp any
		return json.Unmarshal([]byte(m.Secrets.Reveal()), &got) == nil && json.Unmarshal([]byte(want), &exp) == nil &&
			reflect.DeepEqual(got, exp)
	}
	for _, ident := range []string{c.ID, "issuing"} {
		m, err := old.IssueLookup(ctx, tn.OrgID, ident, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.Connection.ID != c.ID || m.Cached != nil || !secretsAre(m, stored) {
			t.Fatalf("lookup by %s: %+v", ident, m)
		}
	}
	if _, err := old.IssueLookup(ctx, connvaulttest.NewTenant(t, old).OrgID, c.ID, nil); connvault.ErrorCode(err) != connvault.ENOTFOUND {
		t.Fatalf("another organization's lookup: %v", err)
	}

	// A cached token while good: no secrets read.
	now := time.Now().UTC().Truncate(time.Microsecond)
	token := json.RawMessage(`{"access_token":"cached-token"}`)
	if _, err := old.SaveIssued(ctx, c, store.CachedCredentials{Credentials: token, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, nil); err != nil {
		t.Fatal(err)
	}
	m, err := old.IssueLookup(ctx, tn.OrgID, c.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Cached == nil || string(m.Cached.Credentials) != string(token) || !m.Cached.ExpiresAt.Equal(now.Add(time.Hour)) || !secretsAre(m, "") {
		t.Fatalf("with a cached token: %+v", m)
	}
	// One that expires within the reuse margin is not handed out.
	if _, err := old.SaveIssued(ctx, c, store.CachedCredentials{Credentials: token, IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Minute)}, nil); err != nil {
		t.Fatal(err)
	}
	if m, err = old.IssueLookup(ctx, tn.OrgID, c.ID, nil); err != nil || m.Cached != nil || !secretsAre(m, stored) {
		t.Fatalf("with a token about to expire: %+v, %v", m, err)
	}

	// Mid-rotation: the current key is new, the row is under the old one.
	rotating := store.New(pool, mustKeyring(t, newKey, oldKey))
	m, err = rotating.IssueLookup(ctx, tn.OrgID, c.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Cached != nil || !secretsAre(m, stored) {
		t.Fatalf("secrets under the previous key: %+v", m)
	}
	// A connection without secrets has none to read.
	open, err := old.CreateConnection(ctx, store.NewConnection{OrgID: tn.OrgID, UserID: tn.UserID, Name: "public feed", ProviderType: "rss",
		Config: connvault.SealedConfig{Config: map[string]any{"feed_url": "http://feed.invalid/rss.xml"}}})
	if err != nil {
		t.Fatal(err)
	}
	if m, err = rotating.IssueLookup(ctx, tn.OrgID, open.ID, nil); err != nil || m.Cached != nil || !secretsAre(m, "") {
		t.Fatalf("without secrets: %+v, %v", m, err)
	}
}

// A cache hit given an event records it in the lookup's own statement,
// with the details the server writes for one (expires_at as Go encodes a
// time), and only for an ACTIVE connection with a good cached token.
func TestIssueLookupRecordsACacheHit(t *testing.T) {
	ctx := context.Background()
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	c := createRSS(t, st, tn, "cache hits")
	issuedAction := string(connvault.ActionCredentialsIssue)
	hit := &store.IssueExpected{Event: store.NewEvent{Action: connvault.ActionCredentialsIssue, ActorUserID: tn.UserID, ActorKeyID: "key_cachehit", RequestID: "req-cache-hit"}}
	recorded := func() []*connvault.Event {
		t.Helper()
		page, err := st.ListEvents(ctx, store.EventFilter{OrgID: tn.OrgID, ConnectionID: &c.ID, Action: &issuedAction, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return page.Events
	}

	// Without a cached token nothing is recorded: the server records the
	// issue once it has one.
	if m, err := st.IssueLookup(ctx, tn.OrgID, c.ID, hit); err != nil || m.Recorded || len(recorded()) != 0 {
		t.Fatalf("no cached token: %+v, %v, %d events", m, err, len(recorded()))
	}
	base := time.Now().UTC().Truncate(time.Second).Add(2 * time.Hour)
	for i, expires := range []time.Time{base, base.Add(120 * time.Millisecond), base.Add(123456 * time.Microsecond), base.Add(10*time.Second + 500*time.Millisecond)} {
		if _, err := st.SaveIssued(ctx, c, store.CachedCredentials{Credentials: json.RawMessage(`{"t":1}`), IssuedAt: base.Add(-time.Hour), ExpiresAt: expires}, nil); err != nil {
			t.Fatal(err)
		}
		if m, err := st.IssueLookup(ctx, tn.OrgID, c.ID, nil); err != nil || m.Recorded || len(recorded()) != i {
			t.Fatalf("a lookup without an event recorded one: %+v, %v", m, err)
		}
		m, err := st.IssueLookup(ctx, tn.OrgID, c.ID, hit)
		if err != nil || !m.Recorded || m.Cached == nil {
			t.Fatalf("cache hit: %+v, %v", m, err)
		}
		events := recorded()
		if len(events) != i+1 {
			t.Fatalf("%d events after %d cache hits", len(events), i+1)
		}
		e := events[0]
		if e.ActorUserID == nil || *e.ActorUserID != tn.UserID || e.ActorKeyID == nil || *e.ActorKeyID != "key_cachehit" ||
			e.RequestID == nil || *e.RequestID != "req-cache-hit" {
			t.Errorf("event %+v: want the caller and the request", e)
		}
		// What the server records for an issue it records itself.
		want, _ := json.Marshal(map[string]any{"cached": true, "expires_at": m.Cached.ExpiresAt})
		var got, wantMap map[string]any
		_ = json.Unmarshal(want, &wantMap)
		if err := json.Unmarshal(e.Details, &got); err != nil || !reflect.DeepEqual(got, wantMap) {
			t.Errorf("details %s, want %s", e.Details, want)
		}
	}

	// An archived connection's token is not handed out: nothing recorded.
	if _, err := st.ArchiveConnection(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	if m, err := st.IssueLookup(ctx, tn.OrgID, c.ID, hit); err != nil || m.Recorded || len(recorded()) != 4 {
		t.Fatalf("archived: %+v, %v, %d events", m, err, len(recorded()))
	}
}

// An expected static issue is recorded by its lookup only for the version
// it was expected of, an ACTIVE connection, and secrets the lookup itself
// decrypts; with the details the server writes for a static issue.
func TestIssueLookupRecordsAnExpectedStaticIssue(t *testing.T) {
	ctx := context.Background()
	pool := connvaulttest.Pool(t)
	oldKey, newKey := "static-old-"+strings.Repeat("o", 32), "static-new-"+strings.Repeat("n", 32)
	st := store.New(pool, mustKeyring(t, oldKey))
	tn := connvaulttest.NewTenant(t, st)
	c := createS3(t, st, tn, "static expected", "static-expected-secret")
	issuedAction := string(connvault.ActionCredentialsIssue)
	count := func() int {
		t.Helper()
		page, err := st.ListEvents(ctx, store.EventFilter{OrgID: tn.OrgID, ConnectionID: &c.ID, Action: &issuedAction, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			var details map[string]any
			if err := json.Unmarshal(e.Details, &details); err != nil || !reflect.DeepEqual(details, map[string]any{"cached": false, "expires_at": nil}) {
				t.Errorf("details %s", e.Details)
			}
		}
		return len(page.Events)
	}
	expect := func(version int64) *store.IssueExpected {
		return &store.IssueExpected{Event: store.NewEvent{Action: connvault.ActionCredentialsIssue, ActorUserID: tn.UserID}, StaticVersion: &version}
	}
	if m, err := st.IssueLookup(ctx, tn.OrgID, c.ID, expect(c.Version)); err != nil || !m.Recorded || m.Secrets == "" || count() != 1 {
		t.Fatalf("the expected version: %+v, %v, %d events", m, err, count())
	}
	if m, err := st.IssueLookup(ctx, tn.OrgID, c.ID, expect(c.Version+1)); err != nil || m.Recorded || count() != 1 {
		t.Fatalf("another version: %+v, %v", m, err)
	}
	// Mid rotation the lookup cannot decrypt the secrets: not recorded.
	rotating := store.New(pool, mustKeyring(t, newKey, oldKey))
	if m, err := rotating.IssueLookup(ctx, tn.OrgID, c.ID, expect(c.Version)); err != nil || m.Recorded || m.Secrets == "" || count() != 1 {
		t.Fatalf("secrets under the previous key: %+v, %v, %d events", m, err, count())
	}
	// Nor for a connection that is not ACTIVE.
	if _, err := st.ArchiveConnection(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	archived, err := st.GetConnection(ctx, tn.OrgID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := st.IssueLookup(ctx, tn.OrgID, c.ID, expect(archived.Version)); err != nil || m.Recorded || count() != 1 {
		t.Fatalf("archived: %+v, %v", m, err)
	}
}
