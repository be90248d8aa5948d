package providertest

import (
	"fmt"
	"net/http"
	"sync/atomic"
)

// Feed serves feeds the way blogs do: RSS 2.0 at /rss.xml (2 items), Atom
// at /atom.xml (1 entry), RSS 1.0 at /rdf.xml (1 item), an empty RSS 2.0
// feed at /empty.xml, an ISO-8859-1 feed at /latin1.xml (1 item), a
// Windows-1252 feed at /cp1252.xml (1 item), broken
// XML at /broken.xml, an HTML page at /page.html, and /slow, which never
// answers before the request gives up. When Header is set, every request
// must carry it with Value, or the answer is a 401 page that echoes the
// header sent, as careless servers do.
type Feed struct {
	Server
	Header string
	Value  string
	// UserAgent is the User-Agent of the last request.
	UserAgent atomic.Value
}

// NewFeed starts the feed double; it stops when the test ends.
func NewFeed(t TB, header, value string) *Feed {
	t.Helper()
	d := &Feed{Header: header, Value: value}
	d.start(t, d.serve, nil)
	return d
}

const rss2 = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Example</title><link>https://example.invalid/</link>
<item><title>One &amp; only&nbsp;</title><guid>1</guid><media:group><media:item>not an item</media:item></media:group></item>
<item><title>Two</title><guid>2</guid></item></channel></rss>`

const rss2Empty = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Nothing yet</title><link>https://example.invalid/</link></channel></rss>`

const atom = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Example</title><id>urn:x</id>
<entry><title>One</title><id>urn:1</id></entry></feed>`

const rdf = `<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="x"><title>Example</title></channel><item rdf:about="1"><title>One</title></item></rdf:RDF>`

// latin1 is "Café" and "Noël" in ISO-8859-1 bytes.
const latin1 = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<rss version=\"2.0\"><channel><title>Caf\xe9</title>" +
	"<item><title>No\xebl</title></item></channel></rss>"

// cp1252 has the bytes Windows-1252 alone assigns (0x80-0x9f): "€", curly
// quotes and a dash.
const cp1252 = "<?xml version=\"1.0\" encoding=\"windows-1252\"?>\n<rss version=\"2.0\"><channel><title>\x80 prices</title>" +
	"<item><title>\x93Quoted\x94 \x96 dashed</title></item></channel></rss>"

const broken = `<?xml version="1.0"?><rss version="2.0"><channel><item><title>One</title></item><item><title>Two</oops>`

func (d *Feed) serve(w http.ResponseWriter, r *http.Request) {
	d.UserAgent.Store(r.Header.Get("User-Agent"))
	if d.Header != "" && r.Header.Get(d.Header) != d.Value {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "<html>401: %s=%q is not allowed</html>", d.Header, r.Header.Get(d.Header))
		return
	}
	body, ctype := "", "application/rss+xml"
	switch r.URL.Path {
	case "/rss.xml":
		body = rss2
	case "/empty.xml":
		body = rss2Empty
	case "/atom.xml":
		body, ctype = atom, "application/atom+xml"
	case "/rdf.xml":
		body, ctype = rdf, "application/rdf+xml"
	case "/latin1.xml":
		body, ctype = latin1, "application/rss+xml; charset=iso-8859-1"
	case "/cp1252.xml":
		body, ctype = cp1252, "application/rss+xml; charset=windows-1252"
	case "/broken.xml":
		body = broken
	case "/page.html":
		body, ctype = "<!doctype html><html><head><title>Not a feed</title></head><body>hello</body></html>", "text/html"
	case "/slow":
		<-r.Context().Done() // the client gives up first
		return
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ctype)
	fmt.Fprint(w, body)
}
