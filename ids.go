package connvault

import (
	"crypto/rand"
	"regexp"
)

const alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomString returns n characters drawn uniformly from alphanumeric with
// crypto/rand (rejection sampling, so no character is favoured).
func randomString(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		_, _ = rand.Read(buf) // never fails: since Go 1.24 it crashes the process instead
		for _, b := range buf {
			if int(b) < 256-256%len(alphanumeric) {
				out = append(out, alphanumeric[int(b)%len(alphanumeric)])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

// NewConnectionID returns "conn_" + 15 random alphanumerics.
func NewConnectionID() string { return "conn_" + randomString(15) }

// NewOrgID returns "int_" + 24 random alphanumerics.
func NewOrgID() string { return "int_" + randomString(24) }

// NewUserID returns "usr_" + 15 random alphanumerics.
func NewUserID() string { return "usr_" + randomString(15) }

// NewKeyID returns a new API key id, "key_" + 15 alphanumerics.
func NewKeyID() string { return "key_" + randomString(15) }

// NewAPIKey returns "sk_" + 40 random alphanumerics (about 238 bits).
func NewAPIKey() string { return "sk_" + randomString(40) }

var (
	orgIDPattern  = regexp.MustCompile(`^int_[A-Za-z0-9]{24}$`)
	userIDPattern = regexp.MustCompile(`^usr_[A-Za-z0-9]{15}$`)
	connIDPattern = regexp.MustCompile(`^conn_[A-Za-z0-9]{15}$`)
)

// ValidOrgID reports whether s has the int_ + 24 format.
func ValidOrgID(s string) bool { return orgIDPattern.MatchString(s) }

// ValidUserID reports whether s has the usr_ + 15 format.
func ValidUserID(s string) bool { return userIDPattern.MatchString(s) }

// ValidConnectionID reports whether s has the conn_ + 15 format.
func ValidConnectionID(s string) bool { return connIDPattern.MatchString(s) }
