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
}

type authEntry struct {
	p       store.Principal
	expires time.Time
}

// maxAuthEntries bounds the cache; past it, the cache starts over.
const maxAuthEntries = 100_000

func newAuthCache(ttl time.Duration) *authCache {
	return &authCache{ttl: ttl, m: map[[32]byte]authEntry{}}
}

func (c *authCache) get(raw string) (store.Principal, bool, [32]byte) {
	h := sha256.Sum256([]byte(raw))
	if c == nil || c.ttl <= 0 {
		return store.Principal{}, false, h
	}
	c.mu.RLock()
	e, ok := c.m[h]
	c.mu.RUnlock()
	if !ok || time.Now().After(e.expires) {
		return store.Principal{}, false, h
	}
	return e.p, true, h
}

func (c *authCache) put(h [32]byte, p store.Principal) {
	if c == nil || c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxAuthEntries {
		c.m = map[[32]byte]authEntry{}
	}
	c.m[h] = authEntry{p: p, expires: time.Now().Add(c.ttl)}
}

// forgetAll empties the cache: after a revocation, this process asks the
// database again for every key (the cache is keyed by hash, so it cannot
// find one key by its id).
func (c *authCache) forgetAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.m = map[[32]byte]authEntry{}
	c.mu.Unlock()
}
