package providers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

func TestSnowflakeCheck(t *testing.T) {
	t.Parallel()
	const (
		password   = "sf-password-value"
		passphrase = "sf-key-passphrase"
	)
	key, other := providertest.NewKeyPair(t), providertest.NewKeyPair(t)
	d := providertest.NewSnowflake(t, "xy12345", "loader", password, key)
	kp := func(pemText string, kv ...string) providers.Config {
		creds := map[string]any{"type": "key_pair", "username": "loader", "private_key": pemText}
		cfg := providers.Config{"account": "xy12345.us-east-1", "warehouse": "COMPUTE_WH", "database": "ANALYTICS",
			"query_timeout_seconds": float64(60), "credentials": creds}
		for i := 0; i < len(kv); i += 2 {
			if kv[i] == "username" || kv[i] == "private_key_passphrase" {
				creds[kv[i]] = kv[i+1]
			} else {
				cfg[kv[i]] = kv[i+1]
			}
		}
		return cfg
	}
	pw := func(pass string, kv ...string) providers.Config {
		cfg := providers.Config{"account": "xy12345", "database": "ANALYTICS",
			"credentials": map[string]any{"type": "username_password", "username": "loader", "password": pass}}
		for i := 0; i < len(kv); i += 2 {
			cfg[kv[i]] = kv[i+1]
		}
		return cfg
	}
	encrypted := key.EncryptedPKCS8PEM(t, passphrase)
	secrets := []string{password, passphrase, "sf-wrong-password", "nope-pass"}
	for _, p := range []string{key.PKCS8PEM, encrypted, other.PKCS8PEM} {
		secrets = append(secrets, pemLines(p)...)
	}
	logouts := d.Logouts.Load()
	runDirect(t, "snowflake", d, &d.Requests, secrets, []directCase{
		{name: "key pair", cfg: kp(key.PKCS8PEM), ok: true, want: "authenticated and ran SELECT 1", step: "run SELECT 1", calls: 1},
		{name: "key pair, encrypted PKCS#8 key", cfg: kp(encrypted, "private_key_passphrase", passphrase), ok: true, want: "ran SELECT 1", step: "run SELECT 1", calls: 1},
		{name: "key pair, wrong passphrase", cfg: kp(encrypted, "private_key_passphrase", "nope-pass"), ok: false,
			want: "the private key passphrase is wrong", step: "read credentials", calls: 0},
		{name: "key pair, another key", cfg: kp(other.PKCS8PEM), ok: false,
			want: "the key-pair JWT was refused: the user's RSA_PUBLIC_KEY, the account or the username does not match (HTTP 401 Unauthorized (390144))",
			step: "authenticate", calls: 1},
		{name: "key pair, another user", cfg: kp(key.PKCS8PEM, "username", "someone"), ok: false, want: "390144", step: "authenticate", calls: 1},
		{name: "key pair, garbage key", cfg: kp("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), ok: false,
			want: "private_key is not a PEM RSA key", step: "read credentials", calls: 0},
		{name: "key pair, missing database", cfg: kp(key.PKCS8PEM, "database", "MISSING_DB"), ok: false,
			want: "the database, schema or warehouse does not exist or the role cannot use it (HTTP 422 Unprocessable Entity (002003))",
			step: "run SELECT 1", calls: 1},
		{name: "key pair, statement still running", cfg: kp(key.PKCS8PEM), setup: func() { d.RunAsync(1) }, ok: true,
			want: "ran SELECT 1", step: "run SELECT 1", calls: 3},
		{name: "account that is not an identifier", cfg: kp(key.PKCS8PEM, "account", "evil.example/x?"), ok: false,
			want: "account is not a Snowflake account identifier", step: "read configuration", calls: 0},
		{name: "password", cfg: pw(password, "warehouse", "COMPUTE_WH"), ok: true, want: "authenticated and ran SELECT 1", step: "run SELECT 1", calls: 3},
		{name: "password, query still running", cfg: pw(password), setup: func() { d.RunAsync(0) }, ok: true, want: "ran SELECT 1", step: "run SELECT 1", calls: 4},
		{name: "wrong password", cfg: pw("sf-wrong-password"), ok: false,
			want: "incorrect username or password (Snowflake code 390100)", step: "authenticate", calls: 1},
		{name: "password, missing warehouse", cfg: pw(password, "warehouse", "MISSING_WH"), ok: false,
			want: "does not exist or the role cannot use it (Snowflake code 390201)", step: "authenticate", calls: 1},
	})
	// Every session the password checks opened was closed again.
	if got := d.Logouts.Load() - logouts; got != 2 {
		t.Errorf("%d sessions were logged out, want 2", got)
	}
	expiredCheck(t, "snowflake", d, &d.Requests, kp(key.PKCS8PEM))
	expiredCheck(t, "snowflake", d, &d.Requests, pw(password))
}

// The statement carries the session settings and a timeout that never
// outlives the check's deadline.
func TestSnowflakeStatementRequest(t *testing.T) {
	t.Parallel()
	key := providertest.NewKeyPair(t)
	d := providertest.NewSnowflake(t, "myorg-myaccount", "loader", "", key)
	p, _ := providers.Lookup("snowflake")
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	cfg := providers.Config{"account": "myorg-myaccount", "warehouse": "WH", "database": "DB", "schema": "PUBLIC", "role": "LOADER",
		"query_timeout_seconds": float64(3600), "credentials": map[string]any{"type": "key_pair", "username": "loader", "private_key": key.PKCS1PEM}}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if res := p.Check(ctx, cfg, env); !res.Success {
		t.Fatalf("check failed: %+v", res)
	}
	body := d.LastStatement()
	for k, want := range map[string]string{"statement": "SELECT 1", "warehouse": "WH", "database": "DB", "schema": "PUBLIC", "role": "LOADER"} {
		if body[k] != want {
			t.Errorf("%s = %v, want %q", k, body[k], want)
		}
	}
	if timeout, _ := body["timeout"].(float64); timeout < 1 || timeout > 8 {
		t.Errorf("timeout = %v, want within the check's 8 s deadline", body["timeout"])
	}
}

// A statement that keeps running is abandoned at the check's deadline.
func TestSnowflakeGivesUpPollingAtTheDeadline(t *testing.T) {
	t.Parallel()
	key := providertest.NewKeyPair(t)
	d := providertest.NewSnowflake(t, "xy12345", "loader", "", key)
	d.RunAsync(1000)
	p, _ := providers.Lookup("snowflake")
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := p.Check(ctx, providers.Config{"account": "xy12345", "credentials": map[string]any{"type": "key_pair", "username": "loader",
		"private_key": key.PKCS8PEM}}, providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()})
	if res.Success || !strings.Contains(res.Message, "deadline") {
		t.Fatalf("got %+v", res)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the check ran %v past a 1.2 s deadline", took)
	}
}
