package providers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Describe turns a failed call into a user-facing explanation that names
// the cause ("authentication refused", "timed out") and never quotes a body.
func Describe(err error) string {
	var se *httpStatusError
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return ""
	case isTimeout(err):
		return "the provider did not answer before the check's deadline"
	case errors.Is(err, ErrBlockedAddress):
		return blockedMessage(err)
	case errors.As(err, &dnsErr):
		return "the host name could not be resolved"
	case errors.As(err, &se):
		switch se.Status {
		case http.StatusUnauthorized:
			return "authentication refused by the provider (" + se.Error() + ")"
		case http.StatusForbidden:
			return "access denied by the provider (" + se.Error() + ")"
		case http.StatusNotFound:
			return "the resource was not found (" + se.Error() + ")"
		case http.StatusBadRequest:
			return "the provider rejected the request (" + se.Error() + ")"
		}
		return "the provider answered " + se.Error()
	case errors.Is(err, errResponseTooLarge):
		return err.Error()
	}
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) {
		return "the provider's TLS certificate is not trusted for this host"
	}
	var recordErr tls.RecordHeaderError
	if errors.As(err, &recordErr) {
		return "the provider did not answer with TLS (is the URL meant to be http?)"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return "could not connect to the provider: " + opErr.Op + " failed"
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return "request to the provider failed"
	}
	return err.Error()
}

// describeTokenInURL explains a transport failure of a request whose URL
// carries token. It drops the *url.Error wrapper, which names the URL, and
// falls back to a generic text if the rest still mentions the token (a
// Location header quoted by a redirect error, for instance).
func describeTokenInURL(err error, token string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := Describe(err)
	if strings.Contains(msg, token) || strings.Contains(msg, url.QueryEscape(token)) {
		return "the request to the provider failed"
	}
	return msg
}

// isTimeout reports a call that ran out of time: the caller's deadline or
// the per-call timeout of the HTTP client or dialer.
func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
}
