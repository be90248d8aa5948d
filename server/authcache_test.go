package server

import (
	"testing"
	"time"

	"github.com/connvault/connvault/store"
)

// A lookup that began before a revocation emptied the cache does not put
// back what the database answered before it: the revoking replica stops
// accepting the key at once, not a TTL later.
func TestAuthCacheKeepsNoAnswerFromBeforeARevocation(t *testing.T) {
	c := newAuthCache(time.Minute)
	p := store.Principal{OrgID: "int_org", KeyID: "key_k"}

	_, ok, key := c.get("sk_revoked_meanwhile")
	if ok {
		t.Fatal("a key never looked up was cached")
	}
	// The database answered (the key still valid), then the revocation
	// committed and emptied the cache before the answer was put.
	c.forgetAll()
	c.put(key, p)
	if _, ok, _ := c.get("sk_revoked_meanwhile"); ok {
		t.Fatal("an answer from before the revocation was cached after it")
	}

	// A lookup that began after it is cached as before.
	_, _, key = c.get("sk_revoked_meanwhile")
	c.put(key, p)
	if got, ok, _ := c.get("sk_revoked_meanwhile"); !ok || got.KeyID != p.KeyID {
		t.Fatalf("a lookup after the revocation: %+v, %v", got, ok)
	}
}
