package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/store"
)

// The operator commands, as an operator runs them: migrate, create a key
// (printed alone on the last line), revoke it from stdin.
func TestOperatorCommands(t *testing.T) {
	t.Setenv("CONNVAULT_DATABASE_URL", connvaulttest.DatabaseURL(t))
	t.Setenv("CONNVAULT_ENCRYPTION_KEY", "")
	ctx := context.Background()
	var out, errs bytes.Buffer
	if err := run(ctx, []string{"migrate"}, nil, &out, &errs); err != nil {
		t.Fatalf("migrate: %v (%s)", err, errs.String())
	}
	org, user := connvault.NewOrgID(), connvault.NewUserID()
	out.Reset()
	if err := run(ctx, []string{"apikey", "create", "--org", org, "--user", user}, nil, &out, &errs); err != nil {
		t.Fatalf("apikey create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	key := lines[len(lines)-1]
	if !strings.HasPrefix(key, "sk_") || len(key) != 43 {
		t.Fatalf("last line is not a key: %q", key)
	}
	if err := run(ctx, []string{"apikey", "create", "--org", "int_short", "--user", user}, nil, &out, &errs); err == nil {
		t.Error("a malformed organization id was accepted")
	}
	if err := run(ctx, []string{"apikey", "revoke"}, strings.NewReader(key+"\n"), &out, &errs); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if err := run(ctx, []string{"apikey", "revoke"}, strings.NewReader(key), &out, &errs); err == nil {
		t.Error("revoking twice succeeded")
	}
	// Both are in the organization's audit trail, by the CLI, naming the key.
	page, err := connvaulttest.Store(t).ListEvents(ctx, store.EventFilter{OrgID: org, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, e := range page.Events {
		var d struct {
			KeyID string `json:"key_id"`
			Via   string `json:"via"`
		}
		if json.Unmarshal(e.Details, &d) != nil || d.Via != "cli" || !strings.HasPrefix(d.KeyID, "key_") {
			t.Errorf("event %s: details %s", e.Action, e.Details)
		}
		trail = append(trail, string(e.Action))
	}
	if got := strings.Join(trail, " "); got != "api_key.revoked api_key.created" {
		t.Errorf("audit trail after the CLI made and revoked a key: %q", got)
	}
	if err := run(ctx, []string{"serve"}, nil, &out, &errs); err == nil || !strings.Contains(err.Error(), "CONNVAULT_ENCRYPTION_KEY") {
		t.Errorf("serve without a key: %v", err)
	}
	if err := run(ctx, []string{"bogus"}, nil, &out, &errs); err == nil {
		t.Error("an unknown command succeeded")
	}
}

func TestParseEndpoints(t *testing.T) {
	got, err := parseEndpoints(" box.api_base=http://127.0.0.1:9000 , google_drive.token_url=https://t.example.invalid/token")
	if err != nil || got["box.api_base"] != "http://127.0.0.1:9000" || got["google_drive.token_url"] != "https://t.example.invalid/token" {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"box.api_base", "nodot=http://x", "box.api_base=ftp://x"} {
		if _, err := parseEndpoints(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestKeysRotateCommand(t *testing.T) {
	t.Setenv("CONNVAULT_DATABASE_URL", connvaulttest.DatabaseURL(t))
	t.Setenv("CONNVAULT_ENCRYPTION_KEY", "")
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"keys", "rotate"}, nil, &out, &errs); err == nil || !strings.Contains(err.Error(), "CONNVAULT_ENCRYPTION_KEY") {
		t.Errorf("rotate without a key: %v", err)
	}
	if err := run(context.Background(), []string{"keys", "spin"}, nil, &out, &errs); err == nil {
		t.Error("keys spin accepted")
	}
}

var (
	keyA = "key-a-" + strings.Repeat("a", 40)
	keyB = "key-b-" + strings.Repeat("b", 40)
)

// A server started with a key the database's secrets were not encrypted
// under refuses to start, saying what to do; the right key, or the new key
// with the old one as previous, starts.
func TestWrongKeyStopsStartUp(t *testing.T) {
	t.Setenv("CONNVAULT_DATABASE_URL", connvaulttest.FreshDatabase(t))
	t.Setenv("CONNVAULT_ENCRYPTION_KEY_PREVIOUS", "")
	ctx := context.Background()
	var out, errs bytes.Buffer
	t.Setenv("CONNVAULT_ENCRYPTION_KEY", keyA)
	if err := run(ctx, []string{"keys", "rotate"}, nil, &out, &errs); err != nil {
		t.Fatalf("first start with key A: %v", err)
	}
	t.Setenv("CONNVAULT_ENCRYPTION_KEY", keyB)
	err := run(ctx, []string{"keys", "rotate"}, nil, &out, &errs)
	if !errors.Is(err, store.ErrWrongKey) || strings.Contains(err.Error(), keyA) || strings.Contains(err.Error(), keyB) {
		t.Fatalf("start with key B: %v", err)
	}
	if err := run(ctx, []string{"health", "run-once"}, nil, &out, &errs); !errors.Is(err, store.ErrWrongKey) {
		t.Errorf("health run-once with key B: %v", err)
	}
	t.Setenv("CONNVAULT_ENCRYPTION_KEY_PREVIOUS", keyA)
	if err := run(ctx, []string{"keys", "rotate"}, nil, &out, &errs); err != nil {
		t.Fatalf("key B with A as previous: %v", err)
	}
	// Rotated (nothing was encrypted under A): B alone starts now, A alone
	// does not.
	t.Setenv("CONNVAULT_ENCRYPTION_KEY_PREVIOUS", "")
	if err := run(ctx, []string{"keys", "rotate"}, nil, &out, &errs); err != nil {
		t.Fatalf("key B alone after rotation: %v", err)
	}
	t.Setenv("CONNVAULT_ENCRYPTION_KEY", keyA)
	if err := run(ctx, []string{"keys", "rotate"}, nil, &out, &errs); !errors.Is(err, store.ErrWrongKey) {
		t.Errorf("key A after rotating to B: %v", err)
	}
}

// Malformed settings stop start-up with a message naming each; they never
// fall back to a default silently.
func TestBadSettingsStopStartUp(t *testing.T) {
	t.Setenv("CONNVAULT_DATABASE_URL", "postgres://nobody@127.0.0.1:1/never-reached")
	t.Setenv("CONNVAULT_HEALTH_INTERVAL", "banana")
	t.Setenv("CONNVAULT_ALLOW_PRIVATE_NETWORKS", "yes")
	t.Setenv("CONNVAULT_RATE_LIMIT", "-3")
	t.Setenv("CONNVAULT_RATE_BURST", "")
	t.Setenv("CONNVAULT_UNAUTHENTICATED_RATE_LIMIT", "NaN")
	t.Setenv("CONNVAULT_EVENT_RETENTION", "12h") // whole days: zero days would delete every event
	var out, errs bytes.Buffer
	err := run(context.Background(), []string{"serve"}, nil, &out, &errs)
	for _, want := range []string{"CONNVAULT_HEALTH_INTERVAL", "banana", "CONNVAULT_ALLOW_PRIVATE_NETWORKS", "CONNVAULT_RATE_LIMIT",
		"CONNVAULT_UNAUTHENTICATED_RATE_LIMIT", "CONNVAULT_EVENT_RETENTION"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
	t.Setenv("CONNVAULT_HEALTH_INTERVAL", "")
	t.Setenv("CONNVAULT_ALLOW_PRIVATE_NETWORKS", "")
	t.Setenv("CONNVAULT_RATE_LIMIT", "")
	t.Setenv("CONNVAULT_UNAUTHENTICATED_RATE_LIMIT", "")
	t.Setenv("CONNVAULT_EVENT_RETENTION", "")
	t.Setenv("CONNVAULT_LOG_LEVEL", "verbose")
	if err := run(context.Background(), []string{"serve"}, nil, &out, &errs); err == nil || !strings.Contains(err.Error(), "CONNVAULT_LOG_LEVEL") {
		t.Errorf("log level verbose: %v", err)
	}
}

// --help prints usage on stdout and succeeds, for the command and every
// subcommand.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"serve", "--help"}, {"migrate", "--help"},
		{"apikey", "--help"}, {"apikey", "create", "--help"}, {"apikey", "revoke", "--help"},
		{"keys", "--help"}, {"keys", "rotate", "--help"}, {"health", "--help"}, {"health", "run-once", "--help"}} {
		var out, errs bytes.Buffer
		err := run(context.Background(), args, nil, &out, &errs)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(strings.ToLower(out.String()), "usage") {
			t.Errorf("%v: err %v, stdout %q", args, err, out.String())
		}
	}
}

// serve logs "serving" once the port is bound: a client may connect from
// that line on. The listener answers in the envelope and with timeouts set.
func TestServeLogsServingAfterBinding(t *testing.T) {
	t.Setenv("CONNVAULT_DATABASE_URL", connvaulttest.FreshDatabase(t))
	t.Setenv("CONNVAULT_ENCRYPTION_KEY", keyA)
	t.Setenv("CONNVAULT_ADDR", "127.0.0.1:0")
	t.Setenv("CONNVAULT_HEALTH_INTERVAL", "0")
	ctx, cancel := context.WithCancel(context.Background())
	logs := &connvaulttest.SyncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, nil, io.Discard, logs) }()
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, line := range strings.Split(logs.String(), "\n") {
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "serving" {
				addr = entry.Addr
			}
		}
	}
	if addr == "" {
		t.Fatalf("no serving line: %s", logs.String())
	}
	// Connect right after the line, no retries.
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatalf("connect after 'serving': %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/readyz = %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

func TestHTTPServerTimeouts(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler(), 10*time.Second)
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 || srv.WriteTimeout <= 10*time.Second {
		t.Errorf("timeouts: header %v read %v write %v idle %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
}

// The operator's key commands: scopes and name, list without raw keys,
// revoke by id; the default is read and write.
func TestAPIKeyCommands(t *testing.T) {
	t.Setenv("CONNVAULT_DATABASE_URL", connvaulttest.DatabaseURL(t))
	ctx := context.Background()
	org, user := connvault.NewOrgID(), connvault.NewUserID()
	var out, errs bytes.Buffer
	if err := run(ctx, []string{"apikey", "create", "--org", org, "--user", user, "--name", "everything", "--scopes", "read,write,use,admin"}, nil, &out, &errs); err != nil {
		t.Fatalf("create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	key := lines[len(lines)-1]
	if !strings.HasPrefix(key, "sk_") || !strings.Contains(out.String(), "read,write,use,admin") {
		t.Fatalf("create printed %q", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"apikey", "create", "--org", org, "--user", user}, nil, &out, &errs); err != nil {
		t.Fatalf("create with defaults: %v", err)
	}
	if !strings.Contains(out.String(), "scopes read,write ") {
		t.Errorf("default scopes: %q", out.String())
	}
	if err := run(ctx, []string{"apikey", "create", "--org", org, "--user", user, "--scopes", "root"}, nil, &out, &errs); err == nil {
		t.Error("an unknown scope was accepted")
	}
	out.Reset()
	if err := run(ctx, []string{"apikey", "list", "--org", org}, nil, &out, &errs); err != nil {
		t.Fatalf("list: %v", err)
	}
	listed := out.String()
	if strings.Count(listed, "key_") != 2 || strings.Contains(listed, key) || !strings.Contains(listed, `"everything"`) {
		t.Fatalf("list printed %q", listed)
	}
	keyID := strings.Fields(strings.Split(listed, "\n")[0])[0]
	for _, line := range strings.Split(strings.TrimSpace(listed), "\n") {
		if strings.Contains(line, "everything") {
			keyID = strings.Fields(line)[0]
		}
	}
	out.Reset()
	if err := run(ctx, []string{"apikey", "revoke", "--id", keyID}, nil, &out, &errs); err != nil {
		t.Fatalf("revoke --id: %v", err)
	}
	out.Reset()
	if err := run(ctx, []string{"apikey", "list", "--org", org}, nil, &out, &errs); err != nil || !strings.Contains(out.String(), "revoked") {
		t.Fatalf("after revoke: %v %q", err, out.String())
	}
	if err := run(ctx, []string{"apikey", "revoke", "--id", "key_aaaaaaaaaaaaaaa"}, nil, &out, &errs); err == nil {
		t.Error("revoking an unknown id succeeded")
	}
}
