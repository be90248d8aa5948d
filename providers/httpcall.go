package providers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// maxResponseBytes bounds every provider answer we read, so a hostile or
// broken endpoint cannot make a check allocate without limit.
const maxResponseBytes = 4 << 20

// errResponseTooLarge is returned when an answer exceeds maxResponseBytes.
var errResponseTooLarge = errors.New("provider answer is larger than the 4 MiB limit")

// httpStatusError describes a non-2xx answer without quoting its body, which
// may echo submitted credentials back.
type httpStatusError struct {
	Status int
	// Code is a short machine code from the body when the provider sends one
	// (OAuth "error", S3 "Code"); it never carries submitted values.
	Code string
}

func (e *httpStatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	return msg
}

// readLimited reads a response body up to maxResponseBytes.
func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxResponseBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxResponseBytes {
		return nil, errResponseTooLarge
	}
	return b, nil
}

// doJSON sends req with env.HTTP and, on a 2xx answer, decodes the JSON body
// into out (when out is non-nil). A non-2xx answer becomes *httpStatusError
// carrying the OAuth-style "error" code if the body has one.
func doJSON(env Env, req *http.Request, out any) error {
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &httpStatusError{Status: resp.StatusCode}
		var oauth struct {
			Error any `json:"error"`
		}
		if json.Unmarshal(body, &oauth) == nil {
			if code, ok := oauth.Error.(string); ok && isShortCode(code) {
				se.Code = code
			}
		}
		return se
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("provider answer is not the expected JSON: %w", errors.Unwrap(err))
	}
	return nil
}

// postForm builds a POST of an application/x-www-form-urlencoded body.
func postForm(ctx context.Context, endpoint string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, errors.New("invalid endpoint URL")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// isShortCode accepts machine codes like "invalid_grant" and rejects free
// text, which might quote what the client sent.
func isShortCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// Describe turns a failed call into a user-facing explanation that names
// the cause ("authentication refused", "timed out") and never quotes a body.
func Describe(err error) string {
	var se *httpStatusError
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded):
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
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "the provider did not answer before the check's deadline"
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

// ErrBlockedAddress is what every refusal of the SSRF guard matches
// (errors.Is): a dial to anything but a public internet address while
// private networks are not allowed. Its text names no address.
var ErrBlockedAddress = errors.New("refused to connect: the address is not a public internet address (set CONNVAULT_ALLOW_PRIVATE_NETWORKS=true to allow)")
