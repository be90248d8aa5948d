package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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

// issue hands out the headers as stored (none configured: none), once
// they are headers a worker can send.
func (h httpHeadersCredentials) issue() (Issued, error) {
	if err := checkHeaders(h.Headers); err != nil {
		return Issued{}, failed("read credentials", err.Error())
	}
	headers := make(map[string]any, len(h.Headers))
	for k, v := range h.Headers {
		headers[k] = v
	}
	return static(map[string]any{"headers": headers})
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

// configuredRequest is one request to a URL the user configured (rss
// feed_url, http_api base_url), carrying the http_headers credentials and
// bounded by request_timeout.
type configuredRequest struct {
	Field     string            // the config field holding the URL, named in messages
	URL       string            // absolute http or https
	Query     func(url.Values)  // sets query parameters; nil leaves the URL as given
	Method    string            // GET when empty
	JSONBody  []byte            // sent as application/json when set
	Accept    string            // the media types asked for
	Headers   map[string]string // the configured (secret) headers
	UserAgent string            // defaultUserAgent when empty
	Timeout   int               // request_timeout in seconds; the spec's default when 0
	Failed    string            // what a failed fetch says first ("the feed could not be fetched")
}

// fetchConfigured sends r through env.send and returns the 2xx answer, or
// why it failed in words a user can act on: a bad URL or header names the
// field, and a request_timeout that ran out (not the check's own deadline)
// says so.
func fetchConfigured(ctx context.Context, env Env, r configuredRequest) (answer, string) {
	u, err := parseHTTPURL(r.Field, r.URL)
	if err != nil {
		return answer{}, err.Error()
	}
	if err := checkHeaders(r.Headers); err != nil {
		return answer{}, err.Error()
	}
	if r.Query != nil {
		q := u.Query()
		r.Query(q)
		u.RawQuery = q.Encode()
	}
	method, timeout, userAgent := r.Method, r.Timeout, r.UserAgent
	if method == "" {
		method = http.MethodGet
	}
	if timeout <= 0 {
		timeout = defaultRequestTimeout
	}
	if userAgent == "" {
		userAgent = defaultUserAgent
	}
	// ctx's own deadline still wins when it is sooner.
	reqCtx, cancel := context.WithTimeout(ctx, time.Duration(timeout)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, method, u.String(), bytes.NewReader(r.JSONBody))
	if err != nil {
		return answer{}, r.Field + " is not a valid URL"
	}
	if len(r.JSONBody) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", r.Accept)
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", userAgent)
	ans, err := env.send(req, nil)
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return answer{}, fmt.Sprintf("%s: no answer within request_timeout (%d s)", r.Failed, timeout)
	case err != nil:
		return answer{}, r.Failed + ": " + Describe(err)
	}
	return ans, ""
}
