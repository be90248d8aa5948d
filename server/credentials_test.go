package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/gen/client"
	"github.com/connvault/connvault/providers/providertest"
	"github.com/connvault/connvault/store"
)

func issued(t *testing.T, r connvaulttest.Response) client.IssuedCredentials {
	t.Helper()
	if cc := r.Header.Get("Cache-Control"); r.Status == 200 && cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	return decodeAnswer[client.IssuedCredentials](t, r, "issued credentials")
}

// Static secrets are handed out as stored, never cached, with no expiry;
// the audit trail records the issue without the secret.
func TestCredentialsOfStaticSecrets(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Create("static"))
	got := issued(t, h.Call(t, "POST", connPath(c.ConnectionId)+"/credentials", nil))
	if got.ExpiresAt != nil || got.Credentials["secret_access_key"] != "s3-secret-static" || got.Credentials["access_key_id"] != "AKIAEXAMPLE" {
		t.Fatalf("issued: %+v", got)
	}
	events := h.Call(t, "GET", connPath(c.ConnectionId)+"/events?action=credentials.issued", nil)
	if !strings.Contains(string(events.Body), "credentials.issued") || strings.Contains(string(events.Body), "s3-secret-static") {
		t.Errorf("events: %s", events.Body)
	}
	if strings.Contains(h.Logs(), "s3-secret-static") {
		t.Error("the secret is in the log")
	}
	// Issued again (the server now knows this version issues static
	// credentials) and after the secret changed: always what is stored.
	if again := issued(t, h.Call(t, "POST", connPath(c.ConnectionId)+"/credentials", nil)); again.Credentials["secret_access_key"] != "s3-secret-static" {
		t.Fatalf("issued again: %+v", again)
	}
	patched := h.Call(t, "PATCH", connPath(c.ConnectionId), map[string]any{"provider_config": map[string]any{
		"credentials": map[string]any{"type": "access_key", "access_key_id": "AKIAEXAMPLE", "secret_access_key": "s3-secret-rotated"}},
		"test_before_save": false})
	if patched.Status != 200 {
		t.Fatalf("PATCH: %d %s", patched.Status, patched.Body)
	}
	if rotated := issued(t, h.Call(t, "POST", connPath(c.ConnectionId)+"/credentials", nil)); rotated.Credentials["secret_access_key"] != "s3-secret-rotated" {
		t.Fatalf("issued after the secret changed: %+v", rotated)
	}
	// Each issue is recorded once: by the handler, or by the lookup when it
	// expects a static issue of the version issued last (not the first
	// issue after the PATCH, which made a new version).
	for range 3 {
		issued(t, h.Call(t, "POST", connPath(c.ConnectionId)+"/credentials", nil))
	}
	all := decodeAnswer[client.EventList](t, h.Call(t, "GET", connPath(c.ConnectionId)+"/events?action=credentials.issued&limit=100", nil), "events").Results
	if len(all) != 6 {
		t.Errorf("%d issue events for six issues", len(all))
	}
	for _, e := range all {
		if !reflect.DeepEqual(e.Details, map[string]any{"cached": false, "expires_at": nil}) || e.RequestId == nil || e.Actor.KeyId == nil {
			t.Errorf("static issue event %+v", e)
		}
	}
	// Only ACTIVE connections hand out credentials.
	h.Call(t, "PATCH", connPath(c.ConnectionId), map[string]any{"status": "SUSPENDED"})
	wantError(t, h.Call(t, "POST", connPath(c.ConnectionId)+"/credentials", nil), 409, "ConflictError")
}

// Box rotates its refresh token on every exchange and revokes the one
// used. Twenty concurrent requests over two replicas make exactly one
// exchange, all get the same access token, the new refresh token is what
// is stored, and a request within the token's validity exchanges nothing.
func TestCredentialsExchangeOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	box := providertest.NewBox(t, "boxcid", "cred-box-secret", "cred-box-refresh-1", "", "", providertest.KeyPair{})
	box.SetRotation(providertest.RevokeUsedRefreshToken)
	a := connvaulttest.NewServer(t, connvaulttest.Options{Endpoints: box.Endpoints(), DatabaseURL: connvaulttest.DatabaseURL(t)})
	b := connvaulttest.NewServer(t, connvaulttest.Options{Endpoints: box.Endpoints(), DatabaseURL: connvaulttest.DatabaseURL(t), Tenant: &a.Tenant})
	c := create(t, a, map[string]any{"name": "box sync", "provider_type": "box", "test_before_save": false,
		"provider_config": map[string]any{"credentials": map[string]any{"type": "oauth", "client_id": "boxcid",
			"client_secret": "cred-box-secret", "refresh_token": "cred-box-refresh-1"}}})
	path := connPath(c.ConnectionId) + "/credentials"

	var wg sync.WaitGroup
	answers := make([]connvaulttest.Response, 20)
	for i := range answers {
		h := a
		if i%2 == 1 {
			h = b
		}
		wg.Go(func() { answers[i] = h.Call(t, "POST", path, nil) })
	}
	wg.Wait()
	tokens := map[any]int{}
	for _, r := range answers {
		got := issued(t, r)
		tokens[got.Credentials["access_token"]]++
		if got.ExpiresAt == nil || time.Until(*got.ExpiresAt) < 30*time.Minute {
			t.Errorf("expires_at %v", got.ExpiresAt)
		}
	}
	if n := box.TokenExchanges.Load(); n != 1 || len(tokens) != 1 {
		t.Fatalf("20 concurrent requests on two replicas: %d exchanges, %d distinct tokens", n, len(tokens))
	}
	for token := range tokens {
		if !box.AcceptsAccessToken(token.(string)) {
			t.Error("the double does not accept the issued access token")
		}
	}
	conn, err := a.Store.GetConnection(t.Context(), a.Tenant.OrgID, c.ConnectionId)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := a.Store.Sealed(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	stored := sealed.Plain()["credentials"].(map[string]any)["refresh_token"].(string)
	if stored == "cred-box-refresh-1" || stored != box.RefreshToken() || !box.AcceptsRefreshToken(stored) {
		t.Fatalf("stored refresh token %q; the double's live one is %q", stored, box.RefreshToken())
	}
	// Within validity: served from the cache, no exchange.
	again := issued(t, b.Call(t, "POST", path, nil))
	if n := box.TokenExchanges.Load(); n != 1 || tokens[again.Credentials["access_token"]] == 0 {
		t.Fatalf("a second request within validity made %d exchanges in all", n)
	}
	// Every issue is recorded once, by whichever statement recorded it:
	// one exchange, twenty handed out from the cache.
	events := decodeAnswer[client.EventList](t, a.Call(t, "GET", connPath(c.ConnectionId)+"/events?action=credentials.issued&limit=100", nil), "events").Results
	fresh, hits := 0, 0
	for _, e := range events {
		switch e.Details["cached"] {
		case false:
			fresh++
		case true:
			hits++
			if e.Details["expires_at"] == nil || e.Actor.UserId == nil || *e.Actor.UserId != a.Tenant.UserID || e.Actor.KeyId == nil || e.RequestId == nil {
				t.Errorf("cache hit event %+v", e)
			}
		}
	}
	if fresh != 1 || hits != 20 {
		t.Errorf("%d issue events recorded: %d exchanged, %d cache hits; want 1 and 20", len(events), fresh, hits)
	}
	// New credentials drop the cached token.
	if r := a.Call(t, "PATCH", connPath(c.ConnectionId), map[string]any{"test_before_save": false,
		"provider_config": map[string]any{"credentials": map[string]any{"refresh_token": stored}}}); r.Status != 200 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	issued(t, a.Call(t, "POST", path, nil))
	if n := box.TokenExchanges.Load(); n != 2 {
		t.Errorf("after new credentials: %d exchanges in all, want 2", n)
	}
}

// A refused exchange is a 502 naming what was refused; one that does not
// finish in time a 504; neither quotes a secret.
func TestCredentialsRefusedAndTimedOut(t *testing.T) {
	t.Parallel()
	box := providertest.NewBox(t, "boxcid", "refused-box-secret", "the-live-refresh-token", "", "", providertest.KeyPair{})
	h := connvaulttest.NewServer(t, connvaulttest.Options{Endpoints: box.Endpoints()})
	c := create(t, h, map[string]any{"name": "box refused", "provider_type": "box", "test_before_save": false,
		"provider_config": map[string]any{"credentials": map[string]any{"type": "oauth", "client_id": "boxcid",
			"client_secret": "refused-box-secret", "refresh_token": "a-dead-refresh-token"}}})
	r := h.Call(t, "POST", connPath(c.ConnectionId)+"/credentials", nil)
	wantError(t, r, 502, "ProviderError")
	for _, secret := range []string{"refused-box-secret", "a-dead-refresh-token"} {
		if strings.Contains(string(r.Body), secret) || strings.Contains(h.Logs(), secret) {
			t.Errorf("%q appears in the answer or the log", secret)
		}
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	hs := connvaulttest.NewServer(t, connvaulttest.Options{CheckTimeout: 300 * time.Millisecond, Endpoints: map[string]string{"box.api_base": slow.URL}})
	sc := create(t, hs, map[string]any{"name": "box slow", "provider_type": "box", "test_before_save": false,
		"provider_config": map[string]any{"credentials": map[string]any{"type": "oauth", "client_id": "boxcid",
			"client_secret": "slow-box-secret", "refresh_token": "slow-refresh"}}})
	wantError(t, hs.Call(t, "POST", connPath(sc.ConnectionId)+"/credentials", nil), 504, "TimeoutError")
}

// revokingBox is a Box double that revokes a refresh token once used, a
// server that reaches it, and a connection named box <name> on it (checked
// before it is saved, when tested).
func revokingBox(t *testing.T, name string, tested bool) (*providertest.Box, *connvaulttest.Harness, client.StorageConnectionModel) {
	t.Helper()
	box := providertest.NewBox(t, "boxcid", name+"-secret", name+"-refresh-1", "", "", providertest.KeyPair{})
	box.SetRotation(providertest.RevokeUsedRefreshToken)
	h := connvaulttest.NewServer(t, connvaulttest.Options{Endpoints: box.Endpoints()})
	c := create(t, h, map[string]any{"name": "box " + name, "provider_type": "box", "test_before_save": tested,
		"provider_config": map[string]any{"credentials": map[string]any{"type": "oauth", "client_id": "boxcid",
			"client_secret": name + "-secret", "refresh_token": name + "-refresh-1"}}})
	return box, h, c
}

// Box revokes a refresh token once used: every check that exchanges one
// (the check before saving, POST /test) stores the new one, so the
// connection keeps working.
func TestChecksKeepRotatedRefreshTokens(t *testing.T) {
	t.Parallel()
	box, h, c := revokingBox(t, "rotating", true)
	for i := range 3 {
		if res := testResult(t, h.Call(t, "POST", connPath(c.ConnectionId)+"/test", nil)); !res.Success {
			t.Fatalf("test %d after the create's check: %+v", i+1, res)
		}
	}
	if got := issued(t, h.Call(t, "POST", connPath(c.ConnectionId)+"/credentials", nil)); !box.AcceptsAccessToken(got.Credentials["access_token"].(string)) {
		t.Fatal("credentials after the checks do not work")
	}
	if n := box.TokenExchanges.Load(); n != 5 {
		t.Errorf("%d exchanges, want 5 (create, three tests, credentials)", n)
	}
}

// A PATCH whose check fails (or whose write is refused) has still spent
// the stored refresh token if it kept it: the token the check got is
// stored all the same, so a typo in a folder id does not leave the
// connection with a revoked token.
func TestARefusedChangeKeepsTheRefreshTokenItsCheckGot(t *testing.T) {
	t.Parallel()
	_, h, c := revokingBox(t, "refused-change", true)
	other := create(t, h, s3Create("box refused-change, taken name"))

	if r := h.Call(t, "PATCH", connPath(c.ConnectionId), map[string]any{"provider_config": map[string]any{"folder_id": "999999999"}}); r.Status != 422 {
		t.Fatalf("a PATCH to a folder that does not exist: %d %s", r.Status, r.Body)
	}
	if res := testResult(t, h.Call(t, "POST", connPath(c.ConnectionId)+"/test", nil)); !res.Success {
		t.Fatalf("after a PATCH whose check failed: %+v", res)
	}
	if r := h.Call(t, "PATCH", connPath(c.ConnectionId), map[string]any{"name": other.Name, "provider_config": map[string]any{"folder_id": "0"}}); r.Status != 409 {
		t.Fatalf("a PATCH to a taken name: %d %s", r.Status, r.Body)
	}
	if res := testResult(t, h.Call(t, "POST", connPath(c.ConnectionId)+"/test", nil)); !res.Success {
		t.Fatalf("after a PATCH whose write was refused: %+v", res)
	}
}

// A client that hangs up while its issue exchanges a refresh token does
// not cost the connection its token: the exchange runs to its end (within
// the check timeout), and what it got is cached and kept.
func TestAClientHangingUpMidExchangeLeavesTheTokenKept(t *testing.T) {
	t.Parallel()
	box, h, c := revokingBox(t, "hang-up", false)

	box.SetAnswerDelay(600 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, "POST", h.URL+connPath(c.ConnectionId)+"/credentials", nil)
	req.Header.Set("Authorization", "Bearer "+h.Tenant.APIKey)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the client did not give up: %d", resp.StatusCode)
	}
	cancel()
	box.SetAnswerDelay(0)
	time.Sleep(time.Second) // the abandoned exchange ends and is saved

	got := issued(t, h.Call(t, "POST", connPath(c.ConnectionId)+"/credentials", nil))
	if !box.AcceptsAccessToken(got.Credentials["access_token"].(string)) {
		t.Fatal("credentials after a client hung up do not work")
	}
}

// Many connections issuing at once: each lock holder works on the pooled
// connection that holds its lock, so holders cannot starve the pool (with
// a pool of 4, sixteen concurrent issues used to time out with 503s).
// Snowflake key-pair tokens are signed locally but expire, so they are
// issued under the lock and cached.
func TestConcurrentIssuesOfManyConnections(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{DatabaseURL: connvaulttest.DatabaseURL(t)})
	key := providertest.NewKeyPair(t)
	ids := make([]string, 16)
	for i := range ids {
		ids[i] = create(t, h, map[string]any{"name": fmt.Sprintf("pool %d", i), "provider_type": "snowflake", "test_before_save": false,
			"provider_config": map[string]any{"account": "xy12345", "credentials": map[string]any{
				"type": "key_pair", "username": "LOADER", "private_key": key.PKCS8PEM}}}).ConnectionId
	}
	var wg sync.WaitGroup
	statuses := make([]int, len(ids)*3)
	for i := range statuses {
		wg.Go(func() { statuses[i] = h.Call(t, "POST", connPath(ids[i%len(ids)])+"/credentials", nil).Status })
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("request %d: %d", i, s)
		}
	}
	got := issued(t, h.Call(t, "POST", connPath(ids[0])+"/credentials", nil))
	if got.ExpiresAt == nil {
		t.Errorf("a key-pair token without expiry: %+v", got)
	}
}

// Static secrets ask no provider, so they are handed out without the
// issuing lock: a request that holds it (another replica exchanging a
// token) does not hold them up.
func TestStaticCredentialsDoNotWaitForTheIssuingLock(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{DatabaseURL: connvaulttest.DatabaseURL(t)})
	c := create(t, h, s3Create("static unlocked"))
	st := connvaulttest.Store(t)
	conn, err := st.GetConnection(context.Background(), h.Tenant.OrgID, c.ConnectionId)
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- st.WithIssueLock(context.Background(), conn, time.Second,
			func(context.Context, *store.Store) (bool, error) { return false, nil },
			func(context.Context, *store.Store) error { close(held); <-release; return nil })
	}()
	<-held
	start := time.Now()
	got := issued(t, h.Call(t, "POST", connPath(c.ConnectionId)+"/credentials", nil))
	elapsed := time.Since(start)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got.Credentials["secret_access_key"] != "s3-secret-static unlocked" || got.ExpiresAt != nil {
		t.Errorf("issued: %+v", got)
	}
	if elapsed > 500*time.Millisecond {
		t.Errorf("static credentials took %v while another request held the issuing lock", elapsed)
	}
}

// Mid key rotation, a replica with the new key still hands out secrets
// stored under the previous one: the issue's lookup cannot decrypt them
// with the current key, so they are read under the key they are under.
func TestStaticCredentialsUnderThePreviousKey(t *testing.T) {
	t.Parallel()
	db := connvaulttest.DatabaseURL(t)
	newKey := "credentials-new-key-" + strings.Repeat("n", 32)
	before := connvaulttest.NewServer(t, connvaulttest.Options{DatabaseURL: db})
	after := connvaulttest.NewServer(t, connvaulttest.Options{DatabaseURL: db, Tenant: &before.Tenant,
		EncryptionKeys: []string{newKey, connvaulttest.EncryptionKey}})
	c := create(t, before, s3Create("under the previous key"))
	got := issued(t, after.Call(t, "POST", connPath(c.ConnectionId)+"/credentials", nil))
	if got.ExpiresAt != nil || got.Credentials["secret_access_key"] != "s3-secret-under the previous key" {
		t.Fatalf("issued by the rotated replica: %+v", got)
	}
	// A replica without the previous key cannot read them: a 500, the
	// secret nowhere in its answer or log.
	lost := connvaulttest.NewServer(t, connvaulttest.Options{DatabaseURL: db, Tenant: &before.Tenant, EncryptionKeys: []string{newKey}})
	r := lost.Call(t, "POST", connPath(c.ConnectionId)+"/credentials", nil)
	if r.Status != 500 || strings.Contains(string(r.Body), "s3-secret") || strings.Contains(lost.Logs(), "s3-secret") {
		t.Errorf("without the previous key: %d %s", r.Status, r.Body)
	}
}

// A cache hit is recorded once, with the same event, whether the replica
// expected one (its last issue of the connection was not static, so its
// lookup recorded the hit in the same statement) or not (the handler
// recorded it after the lookup).
func TestCacheHitsAreRecordedAlikeByEitherLookup(t *testing.T) {
	t.Parallel()
	db := connvaulttest.DatabaseURL(t)
	a := connvaulttest.NewServer(t, connvaulttest.Options{DatabaseURL: db})
	b := connvaulttest.NewServer(t, connvaulttest.Options{DatabaseURL: db, Tenant: &a.Tenant})
	key := providertest.NewKeyPair(t)
	c := create(t, a, map[string]any{"name": "hits alike", "provider_type": "snowflake", "test_before_save": false,
		"provider_config": map[string]any{"account": "xy12345", "credentials": map[string]any{
			"type": "key_pair", "username": "LOADER", "private_key": key.PKCS8PEM}}})
	path := connPath(c.ConnectionId) + "/credentials"
	signed := a.Call(t, "POST", path, nil)     // signed and cached; a now expects hits
	expected := a.Call(t, "POST", path, nil)   // a hit a's lookup records
	unexpected := b.Call(t, "POST", path, nil) // a hit b records after its lookup
	first, hit := issued(t, signed), issued(t, expected)
	if other := issued(t, unexpected); hit.Credentials["jwt"] != first.Credentials["jwt"] || other.Credentials["jwt"] != first.Credentials["jwt"] {
		t.Fatal("the cached token was not handed out")
	}
	events := decodeAnswer[client.EventList](t, a.Call(t, "GET", connPath(c.ConnectionId)+"/events?action=credentials.issued&limit=100", nil), "events").Results
	if len(events) != 3 {
		t.Fatalf("%d issue events for three issues", len(events))
	}
	byRequest := map[string]client.Event{}
	for _, e := range events {
		if e.RequestId == nil || e.Actor.UserId == nil || *e.Actor.UserId != a.Tenant.UserID || e.Actor.KeyId == nil || *e.Actor.KeyId != a.Tenant.KeyID {
			t.Errorf("event %+v: want the caller and the request", e)
			continue
		}
		byRequest[*e.RequestId] = e
	}
	want := map[string]any{"cached": true, "expires_at": first.ExpiresAt.UTC().Format(time.RFC3339Nano)}
	for name, r := range map[string]connvaulttest.Response{"expected": expected, "unexpected": unexpected} {
		e, ok := byRequest[r.Header.Get("X-Request-Id")]
		if !ok || !reflect.DeepEqual(e.Details, want) {
			t.Errorf("the %s hit's event: %+v (found %v), want details %v", name, e.Details, ok, want)
		}
	}
	if e := byRequest[signed.Header.Get("X-Request-Id")]; e.Details["cached"] != false {
		t.Errorf("the signing's event: %+v", e.Details)
	}
}

// Credentials never leave without their audit event: when it cannot be
// written, the caller gets an error in the envelope and no secret; the
// retry, with the event written, gets the credentials.
func TestCredentialsNotHandedOutWithoutTheirEvent(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	c := create(t, h, s3Create("audited or nothing"))
	allow := refuseEvents(t, fmt.Sprintf("NEW.connection_id = '%s' AND NEW.action = 'credentials.issued'", c.ConnectionId))
	path := connPath(c.ConnectionId) + "/credentials"
	r := h.Call(t, "POST", path, nil)
	if r.Status < 500 || strings.Contains(string(r.Body), "s3-secret-audited or nothing") || !strings.Contains(string(r.Body), `"error"`) {
		t.Fatalf("an issue whose event was refused: %d %s", r.Status, r.Body)
	}
	allow()
	if got := issued(t, h.Call(t, "POST", path, nil)); got.Credentials["secret_access_key"] != "s3-secret-audited or nothing" {
		t.Fatalf("the retry: %+v", got)
	}
	events := h.Call(t, "GET", connPath(c.ConnectionId)+"/events?action=credentials.issued", nil)
	if n := strings.Count(string(events.Body), `"credentials.issued"`); n != 1 {
		t.Errorf("%d issue events after one refused issue and one handed out: %s", n, events.Body)
	}
}
