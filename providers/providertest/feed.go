package providertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
)

// Feed serves RSS 2.0 at /rss.xml, Atom at /atom.xml, RSS 1.0 at /rdf.xml
// and an HTML page at /page.html. When Header is set, every request must
// carry it with Value, or the answer is a 401 that echoes the header sent,
// as careless servers do.
type Feed struct {
	URL      string
	Header   string
	Value    string
	Requests atomic.Int64
}

// NewFeed starts the feed double.
func NewFeed(t TB, header, value string) *Feed {
	t.Helper()
	d := &Feed{Header: header, Value: value}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

const rss2 = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Example</title><link>https://example.invalid/</link>
<item><title>One</title><guid>1</guid></item><item><title>Two</title><guid>2</guid></item></channel></rss>`

const atom = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Example</title><id>urn:x</id>
<entry><title>One</title><id>urn:1</id></entry></feed>`

const rdf = `<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="x"><title>Example</title></channel><item rdf:about="1"><title>One</title></item></rdf:RDF>`

func (d *Feed) serve(w http.ResponseWriter, r *http.Request) {
	d.Requests.Add(1)
	if d.Header != "" && r.Header.Get(d.Header) != d.Value {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "<html>401: %s=%q is not allowed</html>", d.Header, r.Header.Get(d.Header))
		return
	}
	switch r.URL.Path {
	case "/rss.xml":
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, rss2)
	case "/atom.xml":
		w.Header().Set("Content-Type", "application/atom+xml")
		fmt.Fprint(w, atom)
	case "/rdf.xml":
		w.Header().Set("Content-Type", "application/rdf+xml")
		fmt.Fprint(w, rdf)
	case "/page.html":
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><html><head><title>Not a feed</title></head><body>hello</body></html>")
	default:
		http.NotFound(w, r)
	}
}
