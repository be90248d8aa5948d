// Package connvault holds the domain types shared by every layer: connection
// statuses, the error codes the HTTP edge maps to status codes, and the Secret
// type that cannot be printed by accident.
package connvault

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// RedactedMarker is what a stored secret looks like in every response, log line
// and error. Clients may send it back unchanged to mean "keep the stored value".
const RedactedMarker = "***REDACTED***"

// Secret holds a credential in memory. Every way of printing it (fmt, JSON,
// slog) yields RedactedMarker, so a stray log line or error cannot leak one.
// Call Reveal only where the plaintext must leave the process: the provider
// call and the encryption query.
type Secret string

// Reveal returns the plaintext. Keep its callers few and obvious.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (Secret) String() string { return RedactedMarker }

// GoString implements fmt.GoStringer so %#v is safe too.
func (Secret) GoString() string { return `"` + RedactedMarker + `"` }

// Format makes every fmt verb (%s, %v, %q, %x, %d ...) print the marker.
func (Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = f.Write([]byte(`"` + RedactedMarker + `"`))
		return
	}
	_, _ = f.Write([]byte(RedactedMarker))
}

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + RedactedMarker + `"`), nil }

// MarshalText implements encoding.TextMarshaler (map keys, XML, YAML).
func (Secret) MarshalText() ([]byte, error) { return []byte(RedactedMarker), nil }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(RedactedMarker) }

// Status is the lifecycle state of a connection.
type Status string

// The four lifecycle states of the reference.
const (
	StatusActive    Status = "ACTIVE"
	StatusSuspended Status = "SUSPENDED"
	StatusFailed    Status = "FAILED"
	StatusArchived  Status = "ARCHIVED"
)

// Error codes. The HTTP edge maps each to one status and error type, once.
const (
	EINVALID  = "invalid"        // 422 ValidationError
	ENOTFOUND = "not_found"      // 404 NotFoundError
	ECONFLICT = "already_exists" // 409 AlreadyExistsError
	ESTATE    = "state_conflict" // 409 ConflictError: the state forbids it (archived)
	EUNAUTH   = "unauthorized"   // 401 UnauthorizedError
	ETIMEOUT  = "timeout"        // 504 TimeoutError
	// EUNAVAILABLE: the database cannot be reached or did not answer in
	// time; the same request may succeed shortly.
	EUNAVAILABLE = "unavailable" // 503 ServiceUnavailableError
	// EPROVIDER: the provider refused or failed a call made for the request.
	EPROVIDER = "provider" // 502 ProviderError
	EINTERNAL = "internal" // 500 InternalServerError
)

// Error is an application error with a code the edge understands and a
// message safe to show a user: it never quotes submitted values. It is the
// one error type handlers return; the HTTP edge maps it to an answer once.
type Error struct {
	Code    string
	Message string
	// Fields are the broken rules of an EINVALID error, each where it broke.
	Fields []FieldError
	// Cause is the underlying error, for logs only (never shown).
	Cause error
}

// FieldError is one rule a request broke.
type FieldError struct {
	// Location is where, e.g. ["body","provider_config","bucket"].
	Location []string
	// Type is the kind of failure: missing, invalid, unknown_field,
	// read_only or check_failed.
	Type    string
	Message string
}

// Invalid is an EINVALID error about one location.
func Invalid(location []string, message string) *Error {
	return &Error{Code: EINVALID, Message: message, Fields: []FieldError{{Location: location, Type: "invalid", Message: message}}}
}

// Under returns err with every field location prefixed by prefix, when err
// is an EINVALID *Error (a rule checked on a part of the request, located
// where that part sits); other errors are returned as they are.
func Under(err error, prefix ...string) error {
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != EINVALID {
		return err
	}
	out := *ce
	out.Fields = make([]FieldError, len(ce.Fields))
	for i, f := range ce.Fields {
		f.Location = append(append([]string{}, prefix...), f.Location...)
		out.Fields[i] = f
	}
	return &out
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Message + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf builds an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EINTERNAL for anything unknown.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// CleanText makes text from outside (a request, a provider's answer) safe
// to store in Postgres and to show: invalid UTF-8, NUL and other control
// characters but tab and newline become U+FFFD.
func CleanText(s string) string {
	clean := utf8.ValidString(s)
	for i := 0; clean && i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			clean = false
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
}
