package connvault

import (
	"slices"
	"time"
)

// Scope is what an API key may do.
type Scope string

// The scopes: read (get, list, events), write (create, update, delete,
// test), use (credentials, usage reports), admin (API keys).
const (
	ScopeRead  Scope = "read"
	ScopeWrite Scope = "write"
	ScopeUse   Scope = "use"
	ScopeAdmin Scope = "admin"
)

// AllScopes lists every scope, in order.
var AllScopes = []Scope{ScopeRead, ScopeWrite, ScopeUse, ScopeAdmin}

// DefaultScopes are a new key's scopes unless others are asked for, and
// what keys made before scopes existed keep.
var DefaultScopes = []Scope{ScopeRead, ScopeWrite}

// ValidScope reports whether s names a scope.
func ValidScope(s string) bool { return slices.Contains(AllScopes, Scope(s)) }

// APIKey describes a key without the key itself.
type APIKey struct {
	ID              string
	OrgID           string
	CreatedByUserID string
	Prefix          string
	Name            string
	Scopes          []Scope
	CreatedAt       time.Time
	LastUsedAt      *time.Time
	RevokedAt       *time.Time
}
