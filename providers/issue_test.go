package providers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

// issueCtx calls a provider's Issue directly, under ctx.
func issueCtx(ctx context.Context, t *testing.T, providerType string, cfg providers.Config, env providers.Env) (providers.Issued, error) {
	t.Helper()
	p, ok := providers.Lookup(providerType)
	if !ok {
		t.Fatalf("provider %s is not registered", providerType)
	}
	if p.Issue == nil {
		t.Fatalf("provider %s cannot issue credentials", providerType)
	}
	return p.Issue(ctx, cfg, env)
}

// issue calls a provider's Issue under a 10 s deadline.
func issue(t *testing.T, providerType string, cfg providers.Config, env providers.Env) (providers.Issued, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return issueCtx(ctx, t, providerType, cfg, env)
}

// mustIssue issues credentials and fails the test on a refusal.
func mustIssue(t *testing.T, providerType string, cfg providers.Config, env providers.Env) providers.Issued {
	t.Helper()
	iss, err := issue(t, providerType, cfg, env)
	if err != nil {
		t.Fatalf("%s: issue: %v", providerType, err)
	}
	return iss
}

// issueCounted issues credentials and asserts that the double counted
// exactly want events on counter (token exchanges, or requests) meanwhile.
func issueCounted(t *testing.T, providerType string, cfg providers.Config, env providers.Env, counter *atomic.Int64, want int64) providers.Issued {
	t.Helper()
	before := counter.Load()
	iss := mustIssue(t, providerType, cfg, env)
	if got := counter.Load() - before; got != want {
		t.Errorf("%s: %d exchanges for one Issue, want %d", providerType, got, want)
	}
	return iss
}

// expectIssueError asserts a refusal: an *IssueError whose message has
// want and none of the secrets.
func expectIssueError(t *testing.T, err error, want string, secrets ...string) *providers.IssueError {
	t.Helper()
	var ie *providers.IssueError
	if !errors.As(err, &ie) {
		t.Fatalf("got %v (%T), want an *IssueError", err, err)
	}
	if !strings.Contains(ie.Message, want) {
		t.Errorf("IssueError %q, want it to say %q", ie.Message, want)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(ie.Message, s) {
			t.Errorf("IssueError reveals a secret: %q", ie.Message)
		}
	}
	return ie
}

// expectStatic asserts credentials handed out as stored: exactly want,
// no expiry, nothing rotated.
func expectStatic(t *testing.T, iss providers.Issued, want map[string]any) {
	t.Helper()
	if iss.ExpiresAt != nil || iss.Rotated != nil {
		t.Errorf("static credentials with ExpiresAt %v, Rotated %v", iss.ExpiresAt, iss.Rotated != nil)
	}
	if len(iss.Credentials) != len(want) {
		t.Errorf("credentials have keys %v, want %v", keys(iss.Credentials), keys(want))
	}
	for k, v := range want {
		if got, ok := iss.Credentials[k]; !ok || !equalJSON(got, v) {
			t.Errorf("credentials[%s] = %v, want %v", k, got, v)
		}
	}
}

// expectExpiry asserts credentials that expire within (min, max] from now.
func expectExpiry(t *testing.T, iss providers.Issued, minLife, maxLife time.Duration) {
	t.Helper()
	if iss.ExpiresAt == nil {
		t.Fatalf("no ExpiresAt on short-lived credentials")
	}
	if life := time.Until(*iss.ExpiresAt); life <= minLife || life > maxLife {
		t.Errorf("credentials live %v, want more than %v and at most %v", life, minLife, maxLife)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func equalJSON(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok != bok {
		return false
	}
	if !aok {
		return a == b
	}
	if len(am) != len(bm) {
		return false
	}
	for k, v := range am {
		if !equalJSON(v, bm[k]) {
			return false
		}
	}
	return true
}

// call makes a worker's request to a double and returns its status.
func call(t *testing.T, client *http.Client, method, url string, header http.Header) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// bearer is the header of a bearer token.
func bearer(token any) http.Header {
	s, _ := token.(string)
	return http.Header{"Authorization": {"Bearer " + s}}
}

// Static secrets are handed out as stored, without calling anyone, and the
// worker can use them at the double.
func TestIssueStaticSecrets(t *testing.T) {
	t.Parallel()
	// Tigris and Backblaze speak S3 with the keys as stored.
	for _, tc := range []struct{ provider, typ, keyField, key, secretField, secret string }{
		{"tigris", "access_key", "access_key_id", "tid", "secret_access_key", "tigris-secret-value"},
		{"backblaze", "application_key", "key_id", "0041234567890", "application_key", "b2-application-key-value"},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			t.Parallel()
			d := providertest.NewS3(t, tc.key, tc.secret, map[string][]string{"bkt": {"k"}})
			cfg := providers.Config{"bucket": "bkt", "endpoint_url": d.URL,
				"credentials": map[string]any{"type": tc.typ, tc.keyField: tc.key, tc.secretField: tc.secret}}
			iss := issueCounted(t, tc.provider, cfg, localEnv(nil), &d.Requests, 0)
			expectStatic(t, iss, map[string]any{tc.keyField: tc.key, tc.secretField: tc.secret})
			expectListWorks(t, d, "bkt", iss.Credentials[tc.keyField], iss.Credentials[tc.secretField], nil)
		})
	}
	t.Run("brightdata", func(t *testing.T) {
		t.Parallel()
		d := providertest.NewBrightData(t, "brightdata-api-token-value")
		iss := issueCounted(t, "brightdata", brightDataConfig("brightdata-api-token-value", providertest.BrightDataZone, ""),
			providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}, &d.Requests, 0)
		expectStatic(t, iss, map[string]any{"api_token": "brightdata-api-token-value"})
		if got := call(t, d.Client(), "GET", d.URL+"/zone/get_active_zones", bearer(iss.Credentials["api_token"])); got != 200 {
			t.Errorf("the issued token gets %d from the double", got)
		}
	})
	t.Run("instagram", func(t *testing.T) {
		t.Parallel()
		const token = "IGQVJ-instagram+access/token"
		d := providertest.NewInstagram(t, token, "")
		env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
		iss := issueCounted(t, "instagram", instagramConfig(token, "", ""), env, &d.Requests, 0)
		expectStatic(t, iss, map[string]any{"access_token": token})
		tok, _ := iss.Credentials["access_token"].(string)
		if got := call(t, d.Client(), "GET", d.URL+"/me?fields=id&access_token="+url.QueryEscape(tok), nil); got != 200 {
			t.Errorf("the issued token gets %d from the double", got)
		}
		_, err := issue(t, "instagram", instagramConfig("", "", ""), env)
		expectIssueError(t, err, "read credentials: credentials.access_token is empty")
	})
	t.Run("rss", func(t *testing.T) {
		t.Parallel()
		d := providertest.NewFeed(t, "X-Api-Key", "feed-header-secret-value")
		iss := issueCounted(t, "rss", rssConfig(d.URL+"/rss.xml", "X-Api-Key", "feed-header-secret-value"), providers.Env{HTTP: d.Client()}, &d.Requests, 0)
		expectStatic(t, iss, map[string]any{"headers": map[string]any{"X-Api-Key": "feed-header-secret-value"}})
		if got := call(t, d.Client(), "GET", d.URL+"/rss.xml", headerOf(iss)); got != 200 {
			t.Errorf("the issued headers get %d from the feed", got)
		}
		_, err := issue(t, "rss", rssConfig(d.URL+"/rss.xml", "X-Api-Key", "feed-header-secret-value\r\nX: 1"), providers.Env{HTTP: d.Client()})
		expectIssueError(t, err, "read credentials: the value of header X-Api-Key contains a line break", "feed-header-secret-value")
		// A feed without credentials has no headers to hand out.
		expectStatic(t, mustIssue(t, "rss", rssConfig(d.URL+"/rss.xml", "", ""), providers.Env{}), map[string]any{"headers": map[string]any{}})
	})
	t.Run("http_api", func(t *testing.T) {
		t.Parallel()
		d := providertest.NewHTTPAPI(t, "api-bearer-token-value")
		iss := issueCounted(t, "http_api", httpAPIConfig(d.URL+"/items", "data.items", "id", "api-bearer-token-value"), providers.Env{HTTP: d.Client()}, &d.Requests, 0)
		expectStatic(t, iss, map[string]any{"headers": map[string]any{"Authorization": "Bearer api-bearer-token-value"}})
		if got := call(t, d.Client(), "GET", d.URL+"/items", headerOf(iss)); got != 200 {
			t.Errorf("the issued headers get %d from the API", got)
		}
	})
}

// expectListWorks asserts that the S3 double lists bucket for a worker
// holding these keys (ListObjectsV2, through the s3 check's client).
func expectListWorks(t *testing.T, d *providertest.S3, bucket string, key, secret, sessionToken any) {
	t.Helper()
	k, _ := key.(string)
	s, _ := secret.(string)
	cfg := s3Config(d.URL, bucket, k, s)
	if tok, ok := sessionToken.(string); ok {
		cfg["credentials"].(map[string]any)["session_token"] = tok
	}
	if res := rawCheck(t, "s3", cfg, localEnv(nil)); !res.Success {
		t.Errorf("the issued keys do not list %s: %s", bucket, res.Message)
	}
}

// headerOf is the http.Header of issued headers credentials.
func headerOf(iss providers.Issued) http.Header {
	h := http.Header{}
	m, _ := iss.Credentials["headers"].(map[string]any)
	for k, v := range m {
		s, _ := v.(string)
		h.Set(k, s)
	}
	return h
}

// post sends a JSON body to a double with headers and returns the status
// and the decoded answer.
func post(t *testing.T, client *http.Client, url string, header http.Header, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&ans)
	return resp.StatusCode, ans
}

// A key pair issues a JWT the SQL API takes, signed here, for an hour;
// a password is handed out as stored and logs in.
func TestIssueSnowflake(t *testing.T) {
	t.Parallel()
	const password, passphrase = "sf-password-value", "sf-key-passphrase"
	key, other := providertest.NewKeyPair(t), providertest.NewKeyPair(t)
	d := providertest.NewSnowflake(t, "xy12345", "loader", password, key)
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	kp := func(pemText, pass string) providers.Config {
		return providers.Config{"account": "xy12345.us-east-1", "warehouse": "COMPUTE_WH", "credentials": map[string]any{
			"type": "key_pair", "username": "loader", "private_key": pemText, "private_key_passphrase": pass}}
	}
	statement := func(jwt, tokenType any) int {
		t.Helper()
		j, _ := jwt.(string)
		tt, _ := tokenType.(string)
		status, _ := post(t, d.Client(), d.URL+"/api/v2/statements", http.Header{"Authorization": {"Bearer " + j},
			"X-Snowflake-Authorization-Token-Type": {tt}}, map[string]any{"statement": "SELECT 1", "timeout": 10})
		return status
	}

	encrypted := key.EncryptedPKCS8PEM(t, passphrase)
	iss := issueCounted(t, "snowflake", kp(encrypted, passphrase), env, &d.Requests, 0)
	if len(iss.Credentials) != 2 || iss.Credentials["token_type"] != "KEYPAIR_JWT" || iss.Rotated != nil {
		t.Errorf("credentials %v, want jwt and token_type KEYPAIR_JWT", keys(iss.Credentials))
	}
	expectExpiry(t, iss, 59*time.Minute, time.Hour)
	if got := statement(iss.Credentials["jwt"], iss.Credentials["token_type"]); got != 200 {
		t.Errorf("the SQL API answers the issued JWT with %d", got)
	}
	// Signed by a key Snowflake does not know, the JWT issues (nothing is
	// asked) and the SQL API refuses it.
	if got := statement(mustIssue(t, "snowflake", kp(other.PKCS8PEM, ""), env).Credentials["jwt"], "KEYPAIR_JWT"); got != 401 {
		t.Errorf("the SQL API answers a JWT of another key with %d", got)
	}

	pw := providers.Config{"account": "xy12345", "credentials": map[string]any{"type": "username_password", "username": "loader", "password": password}}
	iss = issueCounted(t, "snowflake", pw, env, &d.Requests, 0)
	expectStatic(t, iss, map[string]any{"username": "loader", "password": password})
	_, login := post(t, d.Client(), d.URL+"/session/v1/login-request?request_id=1", http.Header{}, map[string]any{"data": map[string]any{
		"ACCOUNT_NAME": "XY12345", "LOGIN_NAME": iss.Credentials["username"], "PASSWORD": iss.Credentials["password"], "CLIENT_APP_ID": "worker"}})
	if login["success"] != true {
		t.Errorf("the issued password does not log in: %v", login["code"])
	}

	secrets := append([]string{password, passphrase, "nope-pass"}, pemLines(encrypted)...)
	expectRefusals(t, "snowflake", env, &d.Requests, secrets, []refusal{
		{"wrong passphrase", kp(encrypted, "nope-pass"), "read credentials: the private key passphrase is wrong", 0},
		{"garbage key", kp("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", ""), "read credentials: private_key is not a PEM RSA key", 0},
		{"account that is not an identifier", providers.Config{"account": "evil.example/x?", "credentials": map[string]any{"type": "key_pair"}},
			"read configuration: account is not a Snowflake account identifier", 0},
		{"unknown credentials type", providers.Config{"account": "xy12345", "credentials": map[string]any{"type": "oauth"}},
			"read credentials: credentials.type must be key_pair or username_password", 0},
	})
}

// S3 access keys are handed out as stored; an IAM role is assumed with
// one STS call for an hour's temporary credentials, which list.
func TestIssueS3(t *testing.T) {
	t.Parallel()
	const role = "arn:aws:iam::123456789012:role/connvault-read"
	s3d := providertest.NewS3(t, "AKIATESTKEY", "s3-test-secret-wJalrXUtnFEMI", map[string][]string{"assets": {"a.txt"}})
	sts := providertest.NewSTS(t, "AKIASERVER", "server-own-secret", role, "ext-42", s3d)
	env := func(secret string) providers.Env {
		e := localEnv(map[string]string{"s3.sts_url": sts.URL})
		if secret != "" {
			e.AWS = providers.AWSCredentials{AccessKeyID: "AKIASERVER", SecretAccessKey: connvault.Secret(secret)}
		}
		return e
	}
	assume := func(roleARN, externalID string) providers.Config {
		return providers.Config{"bucket": "assets", "endpoint_url": s3d.URL,
			"credentials": map[string]any{"type": "iam_role", "role_arn": roleARN, "external_id": externalID}}
	}

	static := s3Config(s3d.URL, "assets", "AKIATESTKEY", "s3-test-secret-wJalrXUtnFEMI")
	iss := issueCounted(t, "s3", static, env("server-own-secret"), &sts.Requests, 0)
	expectStatic(t, iss, map[string]any{"access_key_id": "AKIATESTKEY", "secret_access_key": "s3-test-secret-wJalrXUtnFEMI"})
	expectListWorks(t, s3d, "assets", iss.Credentials["access_key_id"], iss.Credentials["secret_access_key"], nil)
	static["credentials"].(map[string]any)["session_token"] = "stored-session-token"
	if got := mustIssue(t, "s3", static, providers.Env{}).Credentials["session_token"]; got != "stored-session-token" {
		t.Errorf("a stored session token is handed out as %v", got)
	}

	iss = issueCounted(t, "s3", assume(role, "ext-42"), env("server-own-secret"), &sts.TokenExchanges, 1)
	if len(iss.Credentials) != 3 || iss.Credentials["session_token"] == nil || iss.Rotated != nil {
		t.Errorf("credentials %v, want access_key_id, secret_access_key and session_token", keys(iss.Credentials))
	}
	expectExpiry(t, iss, 59*time.Minute, time.Hour)
	expectListWorks(t, s3d, "assets", iss.Credentials["access_key_id"], iss.Credentials["secret_access_key"], iss.Credentials["session_token"])

	for _, tc := range []struct {
		name, secret, roleARN, externalID, want string
		exchanges                               int64
	}{
		{"wrong external id", "server-own-secret", role, "ext-99", "assume role: the role's trust policy does not let this server assume it", 1},
		{"another role", "server-own-secret", role + "-other", "ext-42", "assume role: the role's trust policy", 1},
		{"wrong server credentials", "not-the-server-secret", role, "ext-42", "assume role: AWS refused the server's own credentials (SignatureDoesNotMatch)", 1},
		{"no server credentials", "", role, "ext-42", "assume role: assuming an IAM role needs the server's own AWS credentials", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := sts.TokenExchanges.Load()
			_, err := issue(t, "s3", assume(tc.roleARN, tc.externalID), env(tc.secret))
			expectIssueError(t, err, tc.want, "server-own-secret", "not-the-server-secret")
			if got := sts.TokenExchanges.Load() - before; got != tc.exchanges {
				t.Errorf("%d AssumeRole calls, want %d", got, tc.exchanges)
			}
		})
	}
	expectTimeout(t, "s3", assume(role, "ext-42"), env("server-own-secret"), &sts.Requests, "server-own-secret")
}

// Every provider declares an issue, and every issue starts from its typed
// config: a config that does not decode is refused before anything is
// sent (the zero Env has no client: a request would panic, which would
// read "failed unexpectedly" instead).
func TestEveryProviderIssues(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"s3", "tigris", "backblaze", "google_drive", "sharepoint", "box", "snowflake",
		"postgresql", "rss", "http_api", "instagram", "tiktok", "brightdata"} {
		_, err := issue(t, typ, providers.Config{"credentials": "not an object"}, providers.Env{})
		expectIssueError(t, err, "read configuration: the configuration cannot be read")
	}
}

// IssueOffline hands out what needs no provider (secrets as stored) and
// answers false, without reaching the network, for what needs one (a
// token exchange) or expires (a key pair's JWT).
func TestIssueOffline(t *testing.T) {
	t.Parallel()
	lookup := func(name string) *providers.Provider {
		p, ok := providers.Lookup(name)
		if !ok {
			t.Fatalf("provider %s is not registered", name)
		}
		return p
	}
	s3 := providertest.NewS3(t, "AKIAOFFLINE", "offline-secret", map[string][]string{"bkt": {"k"}})
	iss, ok := issueOffline(t, lookup("s3"), s3Config(s3.URL, "bkt", "AKIAOFFLINE", "offline-secret"), localEnv(nil))
	if !ok {
		t.Fatal("static S3 keys were not handed out offline")
	}
	expectStatic(t, iss, map[string]any{"access_key_id": "AKIAOFFLINE", "secret_access_key": "offline-secret"})
	if n := s3.Requests.Load(); n != 0 {
		t.Errorf("the S3 double saw %d requests", n)
	}

	box := providertest.NewBox(t, "c", "box-secret-value", "box-refresh-value", "1", "k", providertest.NewKeyPair(t))
	oauth := providers.Config{"credentials": map[string]any{"type": "oauth", "client_id": "c", "client_secret": "box-secret-value", "refresh_token": "box-refresh-value"}}
	if iss, ok := issueOffline(t, lookup("box"), oauth, providers.Env{HTTP: box.Client(), Endpoints: box.Endpoints()}); ok || iss.Credentials != nil {
		t.Errorf("a Box token exchange was answered offline: %+v", iss)
	}
	if n := box.TokenExchanges.Load(); n != 0 {
		t.Errorf("offline, the Box double saw %d token exchanges", n)
	}

	keyPair := providers.Config{"account": "xy12345", "credentials": map[string]any{
		"type": "key_pair", "username": "loader", "private_key": providertest.NewKeyPair(t).PKCS8PEM}}
	if _, ok := issueOffline(t, lookup("snowflake"), keyPair, localEnv(nil)); ok {
		t.Error("an expiring key-pair JWT was answered as static")
	}
}
