package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// httpHeadersCredentials is the optional credentials variant of rss and
// http_api: headers sent with every request, whose values are secret (a
// bearer token, an API key header).
type httpHeadersCredentials struct {
	Type    string            `json:"type"`
	Headers map[string]string `json:"headers"`
}

// defaultUserAgent identifies connvault to feed and API servers; some
// refuse Go's default agent.
const defaultUserAgent = "connvault/1 (+connectivity check)"

// defaultRequestTimeout is the spec's default request_timeout, in seconds.
const defaultRequestTimeout = 30

// checkHeaders refuses header names or values that net/http would reject
// only later with a less helpful error. The message names the header,
// never its (secret) value.
func checkHeaders(headers map[string]string) error {
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names) // the same config always yields the same message
	for _, k := range names {
		if k == "" || strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) }) {
			return errors.New("a header name in credentials.headers is not a valid HTTP header name")
		}
		if strings.ContainsAny(headers[k], "\r\n\x00") {
			return fmt.Errorf("the value of header %s contains a line break or NUL", k)
		}
	}
	return nil
}

// setHeaders applies the configured (secret) headers, then the user agent.
func setHeaders(req *http.Request, headers map[string]string, userAgent string) {
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if userAgent == "" {
		userAgent = defaultUserAgent
	}
	req.Header.Set("User-Agent", userAgent)
}

// withRequestTimeout bounds ctx by request_timeout seconds (the spec's
// default when unset); ctx's own deadline still wins when it is sooner.
func withRequestTimeout(ctx context.Context, seconds int) (context.Context, context.CancelFunc) {
	if seconds <= 0 {
		seconds = defaultRequestTimeout
	}
	return context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
}

// describeFetch explains a failed fetch; when the configured
// request_timeout (not the check's own deadline) ran out, it says so.
func describeFetch(parent context.Context, err error, seconds int) string {
	if errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
		if seconds <= 0 {
			seconds = defaultRequestTimeout
		}
		return fmt.Sprintf("no answer within request_timeout (%d s)", seconds)
	}
	return Describe(err)
}
