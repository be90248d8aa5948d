package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
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
