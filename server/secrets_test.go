package server_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connvault/connvault/connvaulttest"
)

// Secrets must never appear in a response, a log line or a plaintext
// column, and must decrypt back with the server key.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	secrets := map[string]string{
		"secret_access_key": "S3SECRET-" + t.Name() + "-wJalrXUtnFEMI",
		"session_token":     "S3SESSION-" + t.Name() + "-FwoGZXIvYXdzE",
		"password":          "PGPASSWORD-" + t.Name() + "-hunter2",
	}
	s3 := s3Create("leak check s3")
	creds := s3["provider_config"].(map[string]any)["credentials"].(map[string]any)
	creds["secret_access_key"], creds["session_token"] = secrets["secret_access_key"], secrets["session_token"]
	pg := map[string]any{"name": "leak check pg", "provider_type": "postgresql", "test_before_save": false,
		"provider_config": map[string]any{"host": "db.example.invalid", "database": "app",
			"credentials": map[string]any{"type": "username_password", "username": "reader", "password": secrets["password"]}}}

	var answers []string
	record := func(r connvaulttest.Response) connvaulttest.Response {
		answers = append(answers, string(r.Body))
		return r
	}
	s3ID := model(t, record(h.Call(t, "POST", connectionsPath, s3))).ConnectionId
	pgID := model(t, record(h.Call(t, "POST", connectionsPath, pg))).ConnectionId
	record(h.Call(t, "GET", connPath(s3ID), nil))
	record(h.Call(t, "GET", connPath("leak check pg"), nil))
	record(h.Call(t, "GET", connectionsPath+"?include_total=true", nil))
	record(h.Call(t, "POST", connectionsPath+"/list", map[string]any{"search": "leak"}))
	record(h.Call(t, "PATCH", connPath(pgID), map[string]any{"description": "patched", "provider_config": map[string]any{"port": 6543}, "test_before_save": false}))
	// A failing check (the host is under .invalid) reports without the secret.
	record(h.Call(t, "POST", connPath(pgID)+"/test", nil))
	record(h.Call(t, "GET", connPath(pgID), nil))
	// A validation failure of a request that carries a secret.
	bad := s3Create("leak check bad")
	badCreds := bad["provider_config"].(map[string]any)["credentials"].(map[string]any)
	badCreds["secret_access_key"] = secrets["secret_access_key"]
	badCreds["type"] = "nonsense"
	record(h.Call(t, "POST", connectionsPath, bad))
	// A create whose check fails, carrying a secret.
	failing := s3Create("leak check failing")
	failing["test_before_save"] = true
	failing["provider_config"].(map[string]any)["credentials"].(map[string]any)["secret_access_key"] = secrets["secret_access_key"]
	record(h.Call(t, "POST", connectionsPath, failing))

	dump := pgDump(t)
	for name, secret := range secrets {
		for i, a := range answers {
			if strings.Contains(a, secret) {
				t.Errorf("answer %d contains %s: %s", i, name, a)
			}
		}
		if strings.Contains(h.Logs(), secret) {
			t.Errorf("server log contains %s", name)
		}
		if strings.Contains(dump, secret) {
			t.Errorf("pg_dump contains %s in plaintext", name)
		}
	}
	if !strings.Contains(dump, s3ID) {
		t.Fatal("pg_dump does not contain the test's rows: the check above proves nothing")
	}

	// The secrets decrypt back with the server key.
	for id, want := range map[string]map[string]string{
		s3ID: {"secret_access_key": secrets["secret_access_key"], "session_token": secrets["session_token"]},
		pgID: {"password": secrets["password"]},
	} {
		c, err := h.Store.GetConnection(t.Context(), h.Tenant.OrgID, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := h.Store.Secrets(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		plain := got.Plain()["credentials"].(map[string]any)
		for k, v := range want {
			if plain[k] != v {
				t.Errorf("%s: decrypted %s does not match", id, k)
			}
		}
		// And printing the in-memory secrets shows only markers.
		if s := strings.Join([]string{stringOf(got)}, ""); strings.Contains(s, want[firstKey(want)]) {
			t.Errorf("printing Secrets reveals a value: %s", s)
		}
	}
}

func pgDump(t *testing.T) string {
	t.Helper()
	bin := "pg_dump"
	if dir := os.Getenv("CONNVAULT_PG_BIN"); dir != "" {
		bin = filepath.Join(dir, "pg_dump")
	} else if _, err := os.Stat("/usr/lib/postgresql/15/bin/pg_dump"); err == nil {
		bin = "/usr/lib/postgresql/15/bin/pg_dump"
	}
	out, err := exec.Command(bin, "--no-owner", "--data-only", connvaulttest.DatabaseURL(t)).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	return string(out)
}

// A PATCH that changes where a connection's secrets are sent (a feed URL,
// an endpoint, a database host) must send them again: a caller who may
// change the connection but never saw its secrets cannot have the test,
// the checker or a worker send them to a server of theirs. Other changes
// keep the stored secrets as before.
func TestChangingWhereSecretsGoNeedsTheSecretsAgain(t *testing.T) {
	t.Parallel()
	feed, _ := countingFeed(t)
	elsewhere, elsewhereCalls := countingFeed(t)
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	headers := map[string]any{"type": "http_headers", "headers": map[string]any{"Authorization": "Bearer feed-secret-token"}}
	rss := create(t, h, map[string]any{"name": "guarded feed", "provider_type": "rss",
		"provider_config": map[string]any{"feed_url": feed, "credentials": headers}})
	kept := map[string]any{"type": "http_headers", "headers": map[string]any{"Authorization": "***REDACTED***"}}

	for _, patch := range []map[string]any{
		{"provider_config": map[string]any{"feed_url": elsewhere}},
		{"provider_config": map[string]any{"feed_url": elsewhere, "credentials": kept}},
		{"provider_config": map[string]any{"feed_url": elsewhere}, "test_before_save": false},
	} {
		wantFieldError(t, h.Call(t, "PATCH", connPath(rss.ConnectionId), patch), "body", "provider_config", "feed_url")
	}
	if n := elsewhereCalls.Load(); n != 0 {
		t.Fatalf("the stored secret was sent to the new feed URL %d times", n)
	}
	if r := h.Call(t, "PATCH", connPath(rss.ConnectionId), map[string]any{"provider_config": map[string]any{"feed_url": elsewhere,
		"credentials": map[string]any{"type": "http_headers", "headers": map[string]any{"Authorization": "Bearer sent-again"}}}}); r.Status != 200 {
		t.Fatalf("moving the feed with its secret sent again: %d %s", r.Status, r.Body)
	}
	if r := h.Call(t, "PATCH", connPath(rss.ConnectionId), map[string]any{"provider_config": map[string]any{"user_agent": "kept-secret/1", "credentials": kept}}); r.Status != 200 {
		t.Fatalf("another change keeping the secret: %d %s", r.Status, r.Body)
	}

	s3 := create(t, h, s3Create("guarded bucket"))
	s3Kept := map[string]any{"type": "access_key", "access_key_id": "AKIAEXAMPLE", "secret_access_key": "***REDACTED***"}
	wantFieldError(t, h.Call(t, "PATCH", connPath(s3.ConnectionId), map[string]any{"test_before_save": false,
		"provider_config": map[string]any{"endpoint_url": "https://s3.elsewhere.invalid", "credentials": s3Kept}}), "body", "provider_config", "endpoint_url")
	if r := h.Call(t, "PATCH", connPath(s3.ConnectionId), map[string]any{"test_before_save": false,
		"provider_config": map[string]any{"bucket": "renamed-bucket", "credentials": s3Kept}}); r.Status != 200 {
		t.Fatalf("renaming the bucket keeping the secret: %d %s", r.Status, r.Body)
	}

	pg := create(t, h, map[string]any{"name": "guarded database", "provider_type": "postgresql", "test_before_save": false,
		"provider_config": map[string]any{"host": "db.example.invalid", "database": "app",
			"credentials": map[string]any{"username": "reader", "password": "pg-secret-password"}}})
	wantFieldError(t, h.Call(t, "PATCH", connPath(pg.ConnectionId), map[string]any{"test_before_save": false,
		"provider_config": map[string]any{"host": "db.elsewhere.invalid"}}), "body", "provider_config", "host")
	if r := h.Call(t, "PATCH", connPath(pg.ConnectionId), map[string]any{"test_before_save": false,
		"provider_config": map[string]any{"database": "other"}}); r.Status != 200 {
		t.Fatalf("another database on the same host keeping the password: %d %s", r.Status, r.Body)
	}
}
