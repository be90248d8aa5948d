package providers

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

func init() {
	Register(&Provider{
		Type:    "rss",
		Secrets: []string{"credentials.headers.*"},
		Check:   checkRSS,
	})
}

type httpHeadersCredentials struct {
	Type    string            `json:"type"`
	Headers map[string]string `json:"headers"`
}

type rssConfig struct {
	FeedURL        string                 `json:"feed_url"`
	UserAgent      string                 `json:"user_agent"`
	RequestTimeout int                    `json:"request_timeout"`
	Credentials    httpHeadersCredentials `json:"credentials"`
}

// defaultUserAgent identifies connvault to feed and API servers.
const defaultUserAgent = "connvault/1 (+connectivity check)"

// checkRSS fetches the feed and parses it as RSS 2.0, RSS 1.0 (RDF) or Atom.
func checkRSS(ctx context.Context, cfg Config, env Env) Result {
	var c rssConfig
	if err := decodeConfig(cfg, &c); err != nil {
		return failed("read configuration", "the configuration cannot be read")
	}
	ctx, cancel := withRequestTimeout(ctx, c.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.FeedURL, nil)
	if err != nil {
		return failed("fetch feed", "feed_url is not a valid URL")
	}
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8")
	setHeaders(req, c.Credentials.Headers, c.UserAgent)
	body, err := fetch(env, req)
	if err != nil {
		msg := Describe(err)
		return failed("fetch feed", msg)
	}
	steps := []Step{{Name: "fetch feed", Status: StepPassed, Message: fmt.Sprintf("%d bytes", len(body))}}
	kind, items, err := parseFeed(body)
	if err != nil {
		return Result{Message: err.Error(), Steps: append(steps, Step{Name: "parse feed", Status: StepFailed, Message: err.Error()})}
	}
	msg := fmt.Sprintf("%s feed with %d items", kind, items)
	return Result{Success: true, Message: msg, Steps: append(steps, Step{Name: "parse feed", Status: StepPassed, Message: msg})}
}

// withRequestTimeout bounds ctx by a configured timeout in seconds, if any.
func withRequestTimeout(ctx context.Context, seconds int) (context.Context, context.CancelFunc) {
	if seconds <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
}

// setHeaders applies configured (secret) headers and the user agent.
func setHeaders(req *http.Request, headers map[string]string, userAgent string) {
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if userAgent == "" {
		userAgent = defaultUserAgent
	}
	req.Header.Set("User-Agent", userAgent)
}

// fetch performs req and returns the (bounded) body of a 2xx answer.
func fetch(env Env, req *http.Request) ([]byte, error) {
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &httpStatusError{Status: resp.StatusCode}
	}
	return body, nil
}

// errNotAFeed is the message users see for HTML pages and other XML.
var errNotAFeed = errors.New("feed is not RSS or Atom")

// parseFeed recognises the feed by its root element and counts its items.
func parseFeed(body []byte) (kind string, items int, err error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = false
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var root string
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if root == "" {
				return "", 0, errNotAFeed
			}
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			name := strings.ToLower(t.Name.Local)
			if depth == 1 {
				root = name
				if root != "rss" && root != "feed" && root != "rdf" {
					return "", 0, errNotAFeed
				}
				continue
			}
			if (root == "feed" && name == "entry") || (root != "feed" && name == "item") {
				items++
			}
		case xml.EndElement:
			depth--
		}
	}
	switch root {
	case "rss":
		return "RSS 2.0", items, nil
	case "rdf":
		return "RSS 1.0", items, nil
	}
	return "Atom", items, nil
}
