package providers

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/net/html/charset"
)

func init() {
	register("rss", []string{"credentials.headers.*"}, checkRSS, issueRSS, secretsBoundTo[rssConfig]("feed_url"))
}

type rssConfig struct {
	FeedURL        string                 `json:"feed_url"`
	UserAgent      string                 `json:"user_agent"`
	RequestTimeout int                    `json:"request_timeout"`
	Credentials    httpHeadersCredentials `json:"credentials"`
}

// issueRSS hands out the configured headers, the feed's only credentials.
func issueRSS(_ context.Context, c rssConfig, _ Env) (Issued, error) {
	return c.Credentials.issue()
}

// checkRSS fetches the feed once (GET feed_url with the configured headers,
// under request_timeout) and parses it as RSS 2.0, RSS 1.0 (RDF) or Atom,
// counting its items: a URL that answers 200 with an HTML page is the
// common mistake, and only parsing catches it.
func checkRSS(ctx context.Context, c rssConfig, env Env) Result {
	if c.FeedURL == "" {
		return skipped("fetch feed", "no feed_url configured: set feed_url to prove the feed can be read")
	}
	ans, failure := fetchConfigured(ctx, env, configuredRequest{Field: "feed_url", URL: c.FeedURL,
		Accept:  "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8",
		Headers: c.Credentials.Headers, UserAgent: c.UserAgent, Timeout: c.RequestTimeout, Failed: "the feed could not be fetched"})
	if failure != "" {
		return failStep("fetch feed", failure)
	}
	steps := []Step{{Name: "fetch feed", Status: StepPassed, Message: fmt.Sprintf("%d bytes", len(ans.Body))}}
	kind, items, err := parseFeed(ans.Body)
	if err != nil {
		return failStep("parse feed", err.Error(), steps...)
	}
	msg := fmt.Sprintf("%s feed with %d items", kind, items)
	if items == 0 {
		msg += " (nothing published yet)"
	}
	return Result{Success: true, Message: msg, Steps: append(steps, Step{Name: "parse feed", Status: StepPassed, Message: msg})}
}

// errNotAFeed is what users see for HTML pages, JSON and other XML.
var errNotAFeed = errors.New("feed is not RSS or Atom")

// feedItemDepth is where each format keeps its items: rss>channel>item,
// rdf:RDF>item, feed>entry. Counting only there keeps nested elements that
// happen to be called item (in extension namespaces) out of the count.
var feedItemDepth = map[string]struct {
	kind  string
	item  string
	depth int
}{
	"rss":  {"RSS 2.0", "item", 3},
	"rdf":  {"RSS 1.0", "item", 2},
	"feed": {"Atom", "entry", 2},
}

// parseFeed recognises the feed by its root element and counts its items.
// Errors never quote the document: it is the provider's answer.
func parseFeed(body []byte) (kind string, items int, err error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	// Real feeds carry HTML entities (&nbsp;) and sloppy markup that
	// readers tolerate; the check should not be stricter than they are.
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	// Feeds still declare legacy encodings (Latin-1, Windows-1252, and
	// more): the WHATWG labels browsers accept, decoded as browsers do.
	dec.CharsetReader = charset.NewReaderLabel
	var root string
	var format struct {
		kind  string
		item  string
		depth int
	}
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if root == "" {
				return "", 0, errNotAFeed
			}
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return "", 0, fmt.Errorf("the feed is not well-formed XML (line %d)", se.Line)
			}
			return "", 0, errors.New("the feed cannot be read as XML")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			name := strings.ToLower(t.Name.Local)
			if depth == 1 {
				f, ok := feedItemDepth[name]
				if !ok {
					return "", 0, errNotAFeed
				}
				root, format = name, f
				continue
			}
			if depth == format.depth && name == format.item {
				items++
			}
		case xml.EndElement:
			depth--
		}
	}
	if root == "" {
		return "", 0, errNotAFeed
	}
	return format.kind, items, nil
}
