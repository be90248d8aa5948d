package server_test

import (
	"context"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/providers/providertest"
	"github.com/connvault/connvault/store"
	"github.com/jackc/pgx/v5"
)

// With the database logging every statement and its duration, a create, a
// PATCH of a secret, a test and a key rotation leave no secret and no
// pgcrypto passphrase in the database's own log: connvault's sessions set
// log_parameter_max_length(_on_error) to 0 (store.Open). A session without
// those settings, in the same database, does log its parameters: the test
// can see a leak when there is one.
func TestNoSecretReachesTheDatabaseLog(t *testing.T) {
	logPath := os.Getenv("CONNVAULT_PG_LOG")
	if logPath == "" {
		t.Skip("CONNVAULT_PG_LOG is not set (make test sets it for the local Postgres)")
	}
	before := fileSize(t, logPath)
	dbURL := connvaulttest.FreshDatabase(t)
	u, _ := url.Parse(dbURL)
	dbName := strings.TrimPrefix(u.Path, "/")
	admin := connvaulttest.Pool(t)
	for _, set := range []string{"log_statement = 'all'", "log_min_duration_statement = 0"} {
		if _, err := admin.Exec(context.Background(), "ALTER DATABASE "+dbName+" SET "+set); err != nil {
			t.Fatal(err)
		}
	}

	const first, second = "first-secret-in-the-log-test", "second-secret-in-the-log-test"
	d := providertest.NewS3(t, "AKIAPGLOG", first, map[string][]string{"logged": {"a"}})
	h := connvaulttest.NewServer(t, connvaulttest.Options{DatabaseURL: dbURL})
	c := create(t, h, s3Against(d, "logged", "logged", first))
	id := c.ConnectionId
	d.RotateSecret(second)
	if r := h.Call(t, "PATCH", connPath(id), map[string]any{"provider_config": map[string]any{"credentials": map[string]any{"secret_access_key": second}}}); r.Status != 200 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if r := h.Call(t, "POST", connPath(id)+"/test", nil); r.Status != 200 || !testResult(t, r).Success {
		t.Fatalf("test: %d %s", r.Status, r.Body)
	}
	oldRing, err := store.NewKeyring(connvaulttest.EncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	newKey := "rotated-key-for-the-log-test-0123456789abcdef"
	ring, err := store.NewKeyring(newKey, connvaulttest.EncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := store.Open(context.Background(), dbURL, store.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if n, err := store.New(pool, ring).RotateKeys(context.Background()); err != nil || n != 1 {
		t.Fatalf("rotate: %d %v", n, err)
	}

	// The control: an ordinary session logs its parameters.
	const canary = "canary-parameter-that-must-be-logged"
	plain, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	var echoed string
	if err := plain.QueryRow(context.Background(), "SELECT $1::text", canary).Scan(&echoed); err != nil {
		t.Fatal(err)
	}
	plain.Close(context.Background())

	var log string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if log = readFrom(t, logPath, before); strings.Contains(log, canary) {
			break
		}
	}
	if !strings.Contains(log, canary) || !strings.Contains(log, "INSERT INTO connections") || !strings.Contains(log, "pgp_sym_decrypt") {
		t.Fatalf("the database did not log statements and parameters as configured; log since start:\n%.2000s", log)
	}
	newRing, err := store.NewKeyring(newKey)
	if err != nil {
		t.Fatal(err)
	}
	for what, secret := range map[string]string{
		"first secret": first, "second secret": second,
		"passphrase": oldRing.CurrentPassphrase(), "rotated passphrase": newRing.CurrentPassphrase(),
	} {
		if strings.Contains(log, secret) {
			t.Errorf("the database log holds the %s", what)
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func readFrom(t *testing.T, path string, offset int64) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
