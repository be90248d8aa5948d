package providers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

func rssConfig(feedURL, header, value string) providers.Config {
	c := providers.Config{"feed_url": feedURL, "request_timeout": float64(5)}
	if header != "" {
		c["credentials"] = map[string]any{"type": "http_headers", "headers": map[string]any{header: value}}
	}
	return c
}

func TestRSSCheck(t *testing.T) {
	t.Parallel()
	const key, wrong = "feed-header-secret-value", "wrong-header-value"
	d := providertest.NewFeed(t, "X-Api-Key", key)
	env := providers.Env{HTTP: d.Client()}
	cfg := func(path string) providers.Config { return rssConfig(d.URL+path, "X-Api-Key", key) }
	runRawCases(t, "rss", env, []string{key, wrong}, []rawCase{
		// media:item inside an item is not an item.
		{"RSS 2.0", cfg("/rss.xml"), true, "RSS 2.0 feed with 2 items"},
		{"no feed_url: the fetch is skipped, saying what to add", providers.Config{}, true, "no feed_url configured: set feed_url"},
		{"Atom", cfg("/atom.xml"), true, "Atom feed with 1 items"},
		{"RSS 1.0", cfg("/rdf.xml"), true, "RSS 1.0 feed with 1 items"},
		{"empty feed", cfg("/empty.xml"), true, "RSS 2.0 feed with 0 items (nothing published yet)"},
		{"ISO-8859-1 feed", cfg("/latin1.xml"), true, "RSS 2.0 feed with 1 items"},
		{"Windows-1252 feed", cfg("/cp1252.xml"), true, "RSS 2.0 feed with 1 items"},
		{"HTML page", cfg("/page.html"), false, "feed is not RSS or Atom"},
		{"broken XML", cfg("/broken.xml"), false, "the feed is not well-formed XML (line 1)"},
		{"missing feed", cfg("/nope.xml"), false, "the resource was not found (HTTP 404 Not Found)"},
		// The double's 401 page quotes the header value it got.
		{"wrong header value", rssConfig(d.URL+"/rss.xml", "X-Api-Key", wrong), false, "authentication refused by the provider (HTTP 401 Unauthorized)"},
		{"no headers", rssConfig(d.URL+"/rss.xml", "", ""), false, "authentication refused"},
		{"feed_url not http", rssConfig("ftp://example.invalid/feed", "", ""), false, "feed_url must be an absolute http or https URL"},
		{"header value with a line break", rssConfig(d.URL+"/rss.xml", "X-Api-Key", key+"\r\nX-Other: 1"), false, "the value of header X-Api-Key contains a line break"},
	})
}

func TestRSSCheckUserAgent(t *testing.T) {
	t.Parallel()
	d := providertest.NewFeed(t, "", "")
	env := providers.Env{HTTP: d.Client()}
	cfg := rssConfig(d.URL+"/rss.xml", "", "")
	expectResult(t, rawCheck(t, "rss", cfg, env), true, "2 items")
	if ua, _ := d.UserAgent.Load().(string); !strings.HasPrefix(ua, "connvault/") {
		t.Errorf("default User-Agent = %q", ua)
	}
	cfg["user_agent"] = "MyReader/2.0"
	expectResult(t, rawCheck(t, "rss", cfg, env), true, "2 items")
	if ua, _ := d.UserAgent.Load().(string); ua != "MyReader/2.0" {
		t.Errorf("configured User-Agent = %q", ua)
	}
	if n := d.Requests.Load(); n != 2 {
		t.Errorf("double got %d requests, want one per check", n)
	}
}

// A feed that never answers fails at the check's deadline, not later.
func TestRSSCheckDeadline(t *testing.T) {
	t.Parallel()
	d := providertest.NewFeed(t, "", "")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := rawCheckCtx(ctx, t, "rss", rssConfig(d.URL+"/slow", "", ""), providers.Env{HTTP: d.Client()})
	expectResult(t, res, false, "did not answer before the check's deadline")
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("check took %v, want about the 300ms deadline", took)
	}
}

// A provider answer larger than the limit is cut off, not read whole.
func TestResponseSizeIsBounded(t *testing.T) {
	t.Parallel()
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		_, _ = w.Write([]byte(`<?xml version="1.0"?><rss version="2.0"><channel>`))
		chunk := []byte(strings.Repeat("<item><title>x</title></item>", 1000))
		for range 200 { // about 6 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer big.Close()
	res := rawCheck(t, "rss", providers.Config{"feed_url": big.URL + "/feed.xml"}, providers.Env{HTTP: big.Client()})
	if res.Success || !strings.Contains(res.Message, "larger than the 4 MiB limit") {
		t.Fatalf("got %+v", res)
	}
}

// A feed slower than request_timeout fails with that setting named, well
// before the check's own deadline.
func TestRSSCheckRequestTimeout(t *testing.T) {
	t.Parallel()
	d := providertest.NewFeed(t, "", "")
	cfg := rssConfig(d.URL+"/slow", "", "")
	cfg["request_timeout"] = float64(1)
	expectResult(t, rawCheck(t, "rss", cfg, providers.Env{HTTP: d.Client()}), false,
		"the feed could not be fetched: no answer within request_timeout (1 s)")
}
