package server

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/connvault/connvault/store"
)

// authCache remembers resolved API keys for a short TTL, so a request does
// not pay a database round trip to authenticate. Revocation is honoured
// within the TTL; unknown keys are never cached, so a newly created key
// works at once. Entries are keyed by the key's hash: the raw key is not
// kept in memory longer than the request.
type authCache struct {
	ttl time.Duration
	mu  sync.RWMutex
	m   map[[32]byte]authEntry
	// generation counts forgetAll calls: a lookup that began before one
	// must not put back what the database answered before the revocation.
	generation uint64
}

type authEntry struct {
	p       store.Principal
	expires time.Time
}

// authKey is a key as the cache knows it: its hash, and the cache's
// generation when it was looked up.
type authKey struct {
	hash       [32]byte
	generation uint64
}

// maxAuthEntries bounds the cache; past it, the cache starts over.
const maxAuthEntries = 100_000

func newAuthCache(ttl time.Duration) *authCache {
	return &authCache{ttl: ttl, m: map[[32]byte]authEntry{}}
}

func (c *authCache) get(raw string) (store.Principal, bool, authKey) {
	k := authKey{hash: sha256.Sum256([]byte(raw))}
	if c == nil || c.ttl <= 0 {
		return store.Principal{}, false, k
	}
	c.mu.RLock()
	e, ok := c.m[k.hash]
	k.generation = c.generation
	c.mu.RUnlock()
	if !ok || time.Now().After(e.expires) {
		return store.Principal{}, false, k
	}
	return e.p, true, k
}

// put remembers what the database answered for k, unless the cache was
// emptied since k was looked up: the answer may predate a revocation.
func (c *authCache) put(k authKey, p store.Principal) {
	if c == nil || c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if k.generation != c.generation {
		return
	}
	if len(c.m) >= maxAuthEntries {
		c.m = map[[32]byte]authEntry{}
	}
	c.m[k.hash] = authEntry{p: p, expires: time.Now().Add(c.ttl)}
}

// forgetAll empties the cache: after a revocation, this process asks the
// database again for every key (the cache is keyed by hash, so it cannot
// find one key by its id), also for lookups already under way.
func (c *authCache) forgetAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.m = map[[32]byte]authEntry{}
	c.generation++
	c.mu.Unlock()
}
