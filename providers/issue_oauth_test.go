package providers_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

// refusal is an Issue the provider (or the configuration) refuses.
type refusal struct {
	name      string
	cfg       providers.Config
	want      string // in the IssueError's message
	exchanges int64  // token requests the refusal costs
}

// expectRefusals issues each case in turn (so counts are exact) and
// asserts the IssueError, its cost, and that it shows no secret.
func expectRefusals(t *testing.T, provider string, env providers.Env, exchanges *atomic.Int64, secrets []string, cases []refusal) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := exchanges.Load()
			_, err := issue(t, provider, tc.cfg, env)
			if ie := expectIssueError(t, err, tc.want, secrets...); ie != nil && ie.TimedOut {
				t.Errorf("a refusal is marked TimedOut")
			}
			if got := exchanges.Load() - before; got != tc.exchanges {
				t.Errorf("%d token requests, want %d", got, tc.exchanges)
			}
		})
	}
}

// expectAccessToken asserts an issued bearer token: exactly access_token
// and token_type, its expiry, and no rotation unless rotated.
func expectAccessToken(t *testing.T, iss providers.Issued, tokenType string, life time.Duration) string {
	t.Helper()
	tok, _ := iss.Credentials["access_token"].(string)
	if tok == "" || iss.Credentials["token_type"] != tokenType || len(iss.Credentials) != 2 {
		t.Errorf("credentials %v, want access_token and token_type %s", keys(iss.Credentials), tokenType)
	}
	expectExpiry(t, iss, life-time.Minute, life)
	return tok
}

// expectRotated asserts that Rotated is cfg, whole, with refresh_token
// replaced by want (and that cfg itself was left alone).
func expectRotated(t *testing.T, iss providers.Issued, cfg providers.Config, want string) {
	t.Helper()
	if iss.Rotated == nil {
		t.Fatalf("no Rotated, want the config with refresh token %q", want)
	}
	old := cfg["credentials"].(map[string]any)["refresh_token"]
	if old == want {
		t.Fatalf("the double did not rotate")
	}
	wantCfg := providers.Config{}
	for k, v := range cfg {
		wantCfg[k] = v
	}
	creds := map[string]any{}
	for k, v := range cfg["credentials"].(map[string]any) {
		creds[k] = v
	}
	creds["refresh_token"] = want
	wantCfg["credentials"] = creds
	if !equalJSON(map[string]any(iss.Rotated), map[string]any(wantCfg)) {
		t.Errorf("Rotated = %v, want the config with the new refresh token", iss.Rotated)
	}
	if cfg["credentials"].(map[string]any)["refresh_token"] != old {
		t.Errorf("Issue changed the caller's config")
	}
}

// expectTimeout issues under a deadline already spent: TimedOut, the step
// named, nothing sent.
func expectTimeout(t *testing.T, provider string, cfg providers.Config, env providers.Env, requests *atomic.Int64, secrets ...string) {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	before := requests.Load()
	_, err := issueCtx(ctx, t, provider, cfg, env)
	ie := expectIssueError(t, err, "did not answer before the deadline", secrets...)
	if ie != nil && !ie.TimedOut {
		t.Errorf("%s: a spent deadline is not marked TimedOut: %+v", provider, ie)
	}
	if got := requests.Load() - before; got != 0 {
		t.Errorf("%s: a spent deadline sent %d requests", provider, got)
	}
}

func TestIssueGoogleDrive(t *testing.T) {
	t.Parallel()
	d, key, other := newGoogle(t)
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	sa := func(pemText string) providers.Config {
		return providers.Config{"folder_id": "1FolderAbc", "credentials": map[string]any{"type": "service_account", "project_id": "proj",
			"private_key_id": "kid1", "private_key": pemText, "client_email": googleEmail, "client_id": "123"}}
	}
	oauth := func(clientSecret, refreshToken string) providers.Config {
		return providers.Config{"credentials": map[string]any{"type": "oauth",
			"client_id": "client-1.apps.googleusercontent.com", "client_secret": clientSecret, "refresh_token": refreshToken}}
	}
	files := d.URL + "/drive/v3/files?pageSize=1"
	if got := call(t, d.Client(), "GET", files, bearer("ya29.made-up")); got != 401 {
		t.Fatalf("the double accepts any token (%d)", got)
	}

	// The service account's JWT bearer grant: one exchange, an hour's token.
	iss := issueCounted(t, "google_drive", sa(key.PKCS8PEM), env, &d.TokenExchanges, 1)
	tok := expectAccessToken(t, iss, "Bearer", time.Hour)
	if got := call(t, d.Client(), "GET", files, bearer(tok)); got != 200 {
		t.Errorf("Drive answers the issued token with %d", got)
	}
	if iss.Rotated != nil {
		t.Errorf("a service account rotated something: %v", iss.Rotated)
	}

	// The googleRefresh-token grant; Google keeps the googleRefresh token.
	iss = issueCounted(t, "google_drive", oauth(googleSecret, googleRefresh), env, &d.TokenExchanges, 1)
	if got := call(t, d.Client(), "GET", files, bearer(expectAccessToken(t, iss, "Bearer", time.Hour))); got != 200 {
		t.Errorf("Drive answers the issued token with %d", got)
	}
	if iss.Rotated != nil {
		t.Errorf("Rotated without a new refresh token: %v", iss.Rotated)
	}
	// Should Google answer a new googleRefresh token, it is handed back to store.
	d.SetRotation(providertest.RotateRefreshToken)
	cfg := oauth(googleSecret, googleRefresh)
	iss = issueCounted(t, "google_drive", cfg, env, &d.TokenExchanges, 1)
	expectRotated(t, iss, cfg, d.RefreshToken())
	d.SetRotation(providertest.KeepRefreshToken)

	secrets := append([]string{googleSecret, googleRefresh, "wrong-gd-secret", "1//revoked-refresh"}, pemLines(key.PKCS8PEM)...)
	secrets = append(secrets, pemLines(other.PKCS8PEM)...)
	expectRefusals(t, "google_drive", env, &d.TokenExchanges, secrets, []refusal{
		{"signed by another key", sa(other.PKCS8PEM), "authenticate: authentication refused by the provider (HTTP 400 Bad Request (invalid_grant))", 1},
		{"wrong client secret", oauth("wrong-gd-secret", googleRefresh), "authenticate: authentication refused by the provider (HTTP 401 Unauthorized (invalid_client))", 1},
		{"revoked refresh token", oauth(googleSecret, "1//revoked-refresh"), "authenticate: authentication refused by the provider (HTTP 400 Bad Request (invalid_grant))", 1},
		{"garbage key", sa("not a key"), "read credentials: private_key is not a PEM RSA key", 0},
		{"unknown credentials type", providers.Config{"credentials": map[string]any{"type": "api_key"}}, "read credentials: credentials.type must be service_account or oauth", 0},
	})
	expectTimeout(t, "google_drive", sa(key.PKCS8PEM), env, &d.Requests, secrets...)
}

func TestIssueSharePoint(t *testing.T) {
	t.Parallel()
	const (
		secret  = "sp~client~secret"
		refresh = "0.AX-sp-refresh-token"
	)
	d := providertest.NewSharePoint(t, "tenant-1", "app-1", secret, refresh)
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	cfg := func(typ, clientSecret, refreshToken string) providers.Config {
		creds := map[string]any{"type": typ, "tenant_id": "tenant-1", "client_id": "app-1", "client_secret": clientSecret}
		if refreshToken != "" {
			creds["refresh_token"] = refreshToken
		}
		return providers.Config{"site_id": "contoso.sharepoint.com,2C71,2D22", "credentials": creds}
	}
	site := d.URL + "/v1.0/sites/root?$select=id"

	// The app's client credentials grant.
	iss := issueCounted(t, "sharepoint", cfg("client_credentials", secret, ""), env, &d.TokenExchanges, 1)
	if got := call(t, d.Client(), "GET", site, bearer(expectAccessToken(t, iss, "Bearer", time.Hour))); got != 200 {
		t.Errorf("Graph answers the issued token with %d", got)
	}
	if iss.Rotated != nil {
		t.Errorf("client credentials rotated something: %v", iss.Rotated)
	}

	// A delegated user's refresh token: Microsoft answers a new one each
	// time, which goes back to be stored; the old one still works there.
	delegated := cfg("delegated", secret, refresh)
	iss = issueCounted(t, "sharepoint", delegated, env, &d.TokenExchanges, 1)
	if got := call(t, d.Client(), "GET", site, bearer(expectAccessToken(t, iss, "Bearer", time.Hour))); got != 200 {
		t.Errorf("Graph answers the issued token with %d", got)
	}
	expectRotated(t, iss, delegated, d.RefreshToken())

	expectRefusals(t, "sharepoint", env, &d.TokenExchanges, []string{secret, refresh, "wrong-sp-secret", "bad-refresh"}, []refusal{
		{"wrong client secret", cfg("client_credentials", "wrong-sp-secret", ""), "authenticate: authentication refused by the provider (HTTP 401 Unauthorized (invalid_client))", 1},
		{"bad refresh token", cfg("delegated", secret, "bad-refresh"), "authenticate: authentication refused by the provider (HTTP 400 Bad Request (invalid_grant))", 1},
		{"tenant id that is a path", providers.Config{"credentials": map[string]any{"type": "client_credentials", "tenant_id": "../common",
			"client_id": "app-1", "client_secret": secret}}, "read credentials: tenant_id must be a tenant GUID or domain", 0},
	})
	expectTimeout(t, "sharepoint", cfg("client_credentials", secret, ""), env, &d.Requests, secret)
}

func TestIssueBox(t *testing.T) {
	t.Parallel()
	const (
		secret  = "box-client-secret"
		refresh = "box-refresh-token"
	)
	key, other := providertest.NewKeyPair(t), providertest.NewKeyPair(t)
	d := providertest.NewBox(t, "box-client", secret, refresh, "9001", "pubkey1", key)
	d.SetRotation(providertest.RevokeUsedRefreshToken) // as Box does
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	cfg := func(kv ...string) providers.Config {
		creds := map[string]any{"client_id": "box-client", "client_secret": secret}
		for i := 0; i < len(kv); i += 2 {
			creds[kv[i]] = kv[i+1]
		}
		return providers.Config{"folder_id": "12345", "credentials": creds}
	}
	folder := d.URL + "/2.0/folders/0"
	works := func(iss providers.Issued) {
		t.Helper()
		if got := call(t, d.Client(), "GET", folder, bearer(expectAccessToken(t, iss, "bearer", time.Hour))); got != 200 {
			t.Errorf("Box answers the issued token with %d", got)
		}
	}

	// A refresh-token grant: Box answers a new refresh token and revokes
	// the one used, so Rotated carries the only refresh token that works.
	first := cfg("type", "oauth", "refresh_token", refresh)
	iss := issueCounted(t, "box", first, env, &d.TokenExchanges, 1)
	works(iss)
	rotated := d.RefreshToken()
	expectRotated(t, iss, first, rotated)
	if d.AcceptsRefreshToken(refresh) || !d.AcceptsRefreshToken(rotated) {
		t.Errorf("the double still takes the spent refresh token, or not the new one")
	}
	// The config as stored before the rotation is refused now, without a
	// secret in the message; the rotated config issues (and rotates) again.
	_, err := issue(t, "box", first, env)
	expectIssueError(t, err, "authenticate: authentication refused by the provider (HTTP 400 Bad Request (invalid_grant))", secret, refresh, rotated)
	again := issueCounted(t, "box", iss.Rotated, env, &d.TokenExchanges, 1)
	works(again)
	expectRotated(t, again, iss.Rotated, d.RefreshToken())

	// Client credentials (CCG) and the JWT grant: a token, nothing rotated.
	for _, c := range []providers.Config{
		cfg("type", "ccg", "enterprise_id", "9001"),
		cfg("type", "jwt", "jwt_key_id", "pubkey1", "enterprise_id", "9001", "private_key", key.PKCS8PEM),
	} {
		iss := issueCounted(t, "box", c, env, &d.TokenExchanges, 1)
		works(iss)
		if iss.Rotated != nil {
			t.Errorf("%s rotated something: %v", c["credentials"].(map[string]any)["type"], iss.Rotated)
		}
	}

	secrets := append([]string{secret, refresh, rotated, "wrong-box-secret"}, pemLines(key.PKCS8PEM)...)
	secrets = append(secrets, pemLines(other.PKCS8PEM)...)
	expectRefusals(t, "box", env, &d.TokenExchanges, secrets, []refusal{
		{"wrong client secret", cfg("type", "ccg", "enterprise_id", "9001", "client_secret", "wrong-box-secret"),
			"authenticate: authentication refused by the provider (HTTP 400 Bad Request (invalid_client))", 1},
		{"jwt signed by another key", cfg("type", "jwt", "jwt_key_id", "pubkey1", "enterprise_id", "9001", "private_key", other.PKCS8PEM),
			"authenticate: authentication refused by the provider (HTTP 400 Bad Request (invalid_grant))", 1},
		{"ccg without a subject", cfg("type", "ccg"), "read credentials: ccg credentials need enterprise_id or user_id", 0},
	})
	expectTimeout(t, "box", cfg("type", "ccg", "enterprise_id", "9001"), env, &d.Requests, secret)

	// A panic while issuing (here: an Env without an HTTP client) is a
	// refusal that shows nothing of the config.
	_, err = issue(t, "box", cfg("type", "ccg", "enterprise_id", "9001"), providers.Env{})
	expectIssueError(t, err, "issuing box credentials failed unexpectedly", secret)
}

// Box's default in the double keeps the spent refresh token working (see
// providertest.Box), yet every refresh still comes back rotated.
func TestIssueBoxRotatesByDefault(t *testing.T) {
	t.Parallel()
	d := providertest.NewBox(t, "c", "box-secret-value", "box-refresh-value", "1", "k", providertest.NewKeyPair(t))
	cfg := providers.Config{"credentials": map[string]any{"type": "oauth", "client_id": "c", "client_secret": "box-secret-value", "refresh_token": "box-refresh-value"}}
	iss := mustIssue(t, "box", cfg, providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()})
	expectRotated(t, iss, cfg, d.RefreshToken())
	if !strings.HasPrefix(d.RefreshToken(), "box-double-refresh-") {
		t.Errorf("refresh token %q", d.RefreshToken())
	}
}

func TestIssueTikTok(t *testing.T) {
	t.Parallel()
	const stored = "act.tiktok-stored-token"
	d := providertest.NewTikTok(t, stored)
	d.SetClient("awexamplekey", "tt-client-secret", "rft.tiktok-refresh")
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	userInfo := d.URL + "/v2/user/info/?fields=open_id"

	// The refresh: a two-hour access token the API takes, and a config
	// holding both new tokens, since TikTok revoked the refresh token used.
	cfg := tiktokConfig(stored, "")
	iss := issueCounted(t, "tiktok", cfg, env, &d.TokenExchanges, 1)
	tok := expectAccessToken(t, iss, "Bearer", 2*time.Hour)
	if got := call(t, d.Client(), "GET", userInfo, bearer(tok)); got != 200 {
		t.Errorf("TikTok answers the issued token with %d", got)
	}
	creds, _ := iss.Rotated["credentials"].(map[string]any)
	if creds["refresh_token"] != d.RefreshToken() || creds["access_token"] != tok || creds["client_key"] != "awexamplekey" || iss.Rotated["scopes"] == nil {
		t.Errorf("Rotated = %v, want the config with the new refresh and access tokens", iss.Rotated)
	}
	if d.AcceptsRefreshToken("rft.tiktok-refresh") {
		t.Errorf("the double still takes the spent refresh token")
	}
	again := issueCounted(t, "tiktok", iss.Rotated, env, &d.TokenExchanges, 1)
	if got := call(t, d.Client(), "GET", userInfo, bearer(again.Credentials["access_token"])); got != 200 {
		t.Errorf("TikTok answers the token issued from the rotated config with %d", got)
	}

	wrongSecret := tiktokConfig(stored, "")
	wrongSecret["credentials"].(map[string]any)["client_secret"] = "tt-wrong-secret"
	noRefresh := tiktokConfig(stored, "")
	delete(noRefresh["credentials"].(map[string]any), "refresh_token")
	secrets := []string{stored, "rft.tiktok-refresh", "tt-client-secret", "tt-wrong-secret", d.RefreshToken()}
	expectRefusals(t, "tiktok", env, &d.TokenExchanges, secrets, []refusal{
		// TikTok answers a refusal with 200 and the OAuth error in the body.
		{"spent refresh token", cfg, "authenticate: authentication refused by the provider (invalid_grant)", 1},
		{"wrong client secret", wrongSecret, "authenticate: authentication refused by the provider (invalid_client)", 1},
		{"no refresh token", noRefresh, "read credentials: credentials.refresh_token is needed", 0},
	})
	expectTimeout(t, "tiktok", iss.Rotated, env, &d.Requests, secrets...)
}

// The refresh race the caller's cache must prevent, shown at the double:
// twenty concurrent issues with the same Box refresh token are twenty
// exchanges, one wins and rotates, the other nineteen are refused, and
// only the winner's Rotated holds a refresh token that still works.
func TestIssueBoxRefreshRace(t *testing.T) {
	t.Parallel()
	d := providertest.NewBox(t, "c", "box-secret-value", "box-refresh-value", "1", "k", providertest.NewKeyPair(t))
	d.SetRotation(providertest.RevokeUsedRefreshToken)
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	cfg := func() providers.Config {
		return providers.Config{"credentials": map[string]any{"type": "oauth", "client_id": "c", "client_secret": "box-secret-value", "refresh_token": "box-refresh-value"}}
	}
	const n = 20
	type outcome struct {
		iss providers.Issued
		err error
	}
	results := make(chan outcome, n)
	for range n {
		go func() {
			iss, err := issue(t, "box", cfg(), env)
			results <- outcome{iss, err}
		}()
	}
	var won []providers.Issued
	for range n {
		o := <-results
		if o.err == nil {
			won = append(won, o.iss)
			continue
		}
		expectIssueError(t, o.err, "invalid_grant", "box-secret-value", "box-refresh-value")
	}
	if got := d.TokenExchanges.Load(); got != n {
		t.Errorf("TokenExchanges = %d, want %d", got, n)
	}
	if len(won) != 1 {
		t.Fatalf("%d of %d concurrent refreshes won, want exactly 1", len(won), n)
	}
	if got := won[0].Rotated["credentials"].(map[string]any)["refresh_token"]; got != d.RefreshToken() || !d.AcceptsRefreshToken(d.RefreshToken()) {
		t.Errorf("the winner's refresh token %v is not the one the double takes", got)
	}
}
