package providers_test

import (
	"strings"
	"testing"

	"github.com/connvault/connvault/providers"
)

// checkCase is one check through providers.Run against a double.
type checkCase struct {
	name string
	cfg  providers.Config
	ok   bool
	want string
}

// runCases runs each case through providers.Run, as the server does.
func runCases(t *testing.T, provider string, env providers.Env, secrets []string, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, provider, tc.cfg, env)
			if res.Success != tc.ok || !strings.Contains(res.Message, tc.want) {
				t.Fatalf("got %+v, want %v %q", res, tc.ok, tc.want)
			}
			assertNoSecret(t, res, secrets...)
		})
	}
}
