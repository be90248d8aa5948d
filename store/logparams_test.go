package store_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/store"
)

// connvault's sessions must keep statement parameters (secrets, the
// pgcrypto passphrase) out of the database's log. A role that may not set
// the two parameters is refused with the GRANT to run, unless the operator
// accepts the risk; a role granted them opens with both at 0.
func TestOpenKeepsParametersOutOfTheLog(t *testing.T) {
	ctx := context.Background()
	admin := connvaulttest.Pool(t)
	base, err := url.Parse(connvaulttest.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	roleURL := func(role string) string {
		u := *base
		u.User = url.UserPassword(role, "pw-"+role)
		return u.String()
	}
	suffix := strings.ToLower(connvault.NewUserID()[4:])
	plain, granted := "cv_plain_"+suffix, "cv_granted_"+suffix
	for _, role := range []string{plain, granted} {
		if _, err := admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD 'pw-"+role+"'"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = admin.Exec(context.Background(), "REVOKE SET ON PARAMETER log_parameter_max_length, log_parameter_max_length_on_error FROM "+role)
			_, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
		})
	}
	if _, err := admin.Exec(ctx, "GRANT SET ON PARAMETER log_parameter_max_length, log_parameter_max_length_on_error TO "+granted); err != nil {
		t.Fatal(err)
	}

	if _, err := store.Open(ctx, roleURL(plain), store.OpenOptions{}); !errors.Is(err, store.ErrParametersLoggable) ||
		!strings.Contains(err.Error(), "GRANT SET ON PARAMETER") {
		t.Fatalf("a role that cannot set the parameters opened: %v", err)
	}
	pool, err := store.Open(ctx, roleURL(plain), store.OpenOptions{AllowLoggedParameters: true})
	if err != nil {
		t.Fatalf("accepting the risk: %v", err)
	}
	pool.Close()

	pool, err = store.Open(ctx, roleURL(granted), store.OpenOptions{})
	if err != nil {
		t.Fatalf("granted role: %v", err)
	}
	defer pool.Close()
	for range 3 { // every pooled session, not only the first
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		var a, b string
		if err := conn.QueryRow(ctx, "SELECT current_setting('log_parameter_max_length'), current_setting('log_parameter_max_length_on_error')").Scan(&a, &b); err != nil || a != "0" || b != "0" {
			t.Fatalf("session settings %q %q (%v)", a, b, err)
		}
	}
}
