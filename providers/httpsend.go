package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxResponseBytes bounds every provider answer we read, so a hostile or
// broken endpoint cannot make a check allocate without limit.
const maxResponseBytes = 4 << 20

// errResponseTooLarge is returned when an answer exceeds maxResponseBytes.
var errResponseTooLarge = errors.New("provider answer is larger than the 4 MiB limit")

// errInvalidEndpoint is returned when a configured endpoint is not a URL.
var errInvalidEndpoint = errors.New("the provider endpoint is not a valid URL")

// answer is a provider's HTTP answer, its body read up to maxResponseBytes.
type answer struct {
	Status      int
	ContentType string
	Body        []byte
}

// send is how every check speaks HTTP: it performs req with env.HTTP, the
// SSRF-guarded client, and reads at most maxResponseBytes of the answer.
// A 2xx answer comes back with a nil error. Any other status is a
// *httpStatusError carrying the machine code codeOf finds in the body
// (codeOf may be nil); the bounded body still comes back, for checks that
// explain a provider's own codes, but is never quoted: servers echo
// credentials back in error pages.
func (e Env) send(req *http.Request, codeOf func(body []byte) string) (answer, error) {
	resp, err := e.HTTP.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	ans := answer{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type")}
	ans.Body, err = readLimited(resp.Body)
	if ans.Status < 200 || ans.Status > 299 {
		// The status is the answer; a body cut short only loses its code.
		code := ""
		if err == nil && codeOf != nil {
			code = codeOf(ans.Body)
		}
		return ans, statusError(ans.Status, code)
	}
	return ans, err
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

// statusError maps a non-2xx answer to its error, keeping code only when it
// is a short machine code.
func statusError(status int, code string) *httpStatusError {
	if !isShortCode(code) {
		code = ""
	}
	return &httpStatusError{Status: status, Code: code}
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

// jsonCode finds a provider's machine code in a JSON error body: the string
// at path ("error" in OAuth answers, "code" in Snowflake's).
func jsonCode(path ...string) func(body []byte) string {
	return func(body []byte) string {
		var node any
		if json.Unmarshal(body, &node) != nil {
			return ""
		}
		for _, k := range path {
			m, ok := node.(map[string]any)
			if !ok {
				return ""
			}
			node = m[k]
		}
		s, _ := node.(string)
		return s
	}
}
