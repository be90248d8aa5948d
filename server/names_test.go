package server_test

import (
	"testing"

	"github.com/connvault/connvault/connvaulttest"
)

// Names are free text: a client URL-escapes them in the path and finds
// the connection again, whatever the characters.
func TestNamesWithAwkwardCharactersRoundTrip(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	for _, name := range []string{"team/assets", "100% raw", "café ☕", "a+b?c#d", "x..y", "  padded  "} {
		c := create(t, h, s3Create(name))
		r := h.Call(t, "GET", connPath(name), nil)
		if r.Status != 200 || model(t, r).ConnectionId != c.ConnectionId {
			t.Errorf("GET %q: %d %s", name, r.Status, r.Body)
			continue
		}
		if p := h.Call(t, "PATCH", connPath(name), map[string]any{"description": "found"}); p.Status != 200 {
			t.Errorf("PATCH %q: %d %s", name, p.Status, p.Body)
		}
	}
}
