package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
)

// Answers that carry connections are encoded here, by appending to a pooled
// buffer, instead of through encoding/json's reflection over an
// intermediate gen.StorageConnectionModel: a GET is a few microseconds of
// work and the encoding was a large part of it, a list page fifty times
// that. provider_config, metadata and secret_fields are already JSON in the
// answer's shape (served as stored).
// The shape is gen.StorageConnectionModel's exactly; encode_test.go checks
// it against encoding/json of that type, and every test server validates
// every answer against the spec.

// connectionAnswer is one connection, encoded; it answers every operation
// whose 200 is a StorageConnectionModel.
type connectionAnswer []byte

func (a connectionAnswer) write(w http.ResponseWriter) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// The length is known: without it net/http sends an answer larger
	// than its 2 KB buffer (a list page) chunked, one more write and the
	// chunk framing for the client to undo.
	h.Set("Content-Length", strconv.Itoa(len(a)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(a)
	return err
}

// VisitGetConnectionResponse implements gen.GetConnectionResponseObject.
func (a connectionAnswer) VisitGetConnectionResponse(w http.ResponseWriter) error { return a.write(w) }

// VisitCreateConnectionResponse implements gen.CreateConnectionResponseObject.
func (a connectionAnswer) VisitCreateConnectionResponse(w http.ResponseWriter) error {
	return a.write(w)
}

// VisitUpdateConnectionResponse implements gen.UpdateConnectionResponseObject.
func (a connectionAnswer) VisitUpdateConnectionResponse(w http.ResponseWriter) error {
	return a.write(w)
}

// VisitDeleteConnectionResponse implements gen.DeleteConnectionResponseObject.
func (a connectionAnswer) VisitDeleteConnectionResponse(w http.ResponseWriter) error {
	return a.write(w)
}

// VisitReportUsageResponse implements gen.ReportUsageResponseObject.
func (a connectionAnswer) VisitReportUsageResponse(w http.ResponseWriter) error { return a.write(w) }

// listAnswer is a page of connections, encoded into a pooled buffer that
// goes back to the pool once written: a page is tens of KiB, and copying
// it out of the buffer allocated as much as the rest of the page's
// encoding together.
type listAnswer struct{ buf *[]byte }

func (a *listAnswer) write(w http.ResponseWriter) error {
	if a.buf == nil {
		return errors.New("a list page was written twice")
	}
	err := connectionAnswer(*a.buf).write(w)
	// The writer has copied the page (into its buffer or the socket).
	putBuffer(a.buf)
	a.buf = nil
	return err
}

// VisitListConnectionsResponse implements gen.ListConnectionsResponseObject.
func (a *listAnswer) VisitListConnectionsResponse(w http.ResponseWriter) error { return a.write(w) }

// VisitListConnectionsGetResponse implements gen.ListConnectionsGetResponseObject.
func (a *listAnswer) VisitListConnectionsGetResponse(w http.ResponseWriter) error {
	return a.write(w)
}

var (
	_ gen.GetConnectionResponseObject      = connectionAnswer(nil)
	_ gen.CreateConnectionResponseObject   = connectionAnswer(nil)
	_ gen.UpdateConnectionResponseObject   = connectionAnswer(nil)
	_ gen.DeleteConnectionResponseObject   = connectionAnswer(nil)
	_ gen.ListConnectionsResponseObject    = (*listAnswer)(nil)
	_ gen.ListConnectionsGetResponseObject = (*listAnswer)(nil)
)

// credentialsAnswer is issued credentials, encoded in gen.IssuedCredentials'
// shape. The credentials are JSON already (cached as JSON, or marshalled
// once when issued), so they are copied, not decoded and encoded again.
type credentialsAnswer []byte

// VisitIssueCredentialsResponse implements gen.IssueCredentialsResponseObject.
func (a credentialsAnswer) VisitIssueCredentialsResponse(w http.ResponseWriter) error {
	w.Header().Set("Cache-Control", "no-store")
	return connectionAnswer(a).write(w)
}

var _ gen.IssueCredentialsResponseObject = credentialsAnswer(nil)

// encodeCredentials encodes issued credentials; credentials is a JSON
// object as encoding/json writes it.
func encodeCredentials(connID, providerType string, credentials []byte, issuedAt time.Time, expiresAt *time.Time) credentialsAnswer {
	b := make([]byte, 0, 160+len(credentials))
	b = append(b, `{"connection_id":`...)
	b = appendString(b, connID)
	b = append(b, `,"credentials":`...)
	b = append(b, credentials...)
	b = append(b, `,"expires_at":`...)
	b = appendOptTime(b, expiresAt)
	b = append(b, `,"issued_at":`...)
	b = appendTime(b, issuedAt)
	b = append(b, `,"provider_type":`...)
	b = appendString(b, providerType)
	return append(b, "}\n"...)
}

// marshalCredentials encodes what a provider issued as encoding/json does
// (keys sorted, the same escaping). Providers hand out strings and objects
// of strings (headers), which are appended without reflection; json.Marshal
// of the map took ~10 allocations on every credentials request. Any other
// value goes to json.Marshal.
func marshalCredentials(m map[string]any) ([]byte, error) {
	size := 2
	for k, v := range m {
		size += len(k) + 6 // quotes, colon, comma
		if s, ok := v.(string); ok {
			size += len(s) + len(s)/16 // a few escapes
		} else {
			size += 64
		}
	}
	if b, ok := appendCredentialValue(make([]byte, 0, size), m); ok {
		return b, nil
	}
	return json.Marshal(m)
}

// appendCredentialValue appends v if it is of a kind providers issue.
func appendCredentialValue(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case string:
		return appendString(b, v), true
	case nil:
		return append(b, "null"...), true
	case bool:
		return strconv.AppendBool(b, v), true
	case map[string]string:
		return appendCredentialObject(b, v)
	case map[string]any:
		return appendCredentialObject(b, v)
	}
	return b, false
}

// appendCredentialObject appends m with its keys in encoding/json's order
// (byte-wise).
func appendCredentialObject[V any](b []byte, m map[string]V) ([]byte, bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendCredentialValue(append(appendString(b, k), ':'), any(m[k])); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// encodeConnection encodes one connection as its answer.
func encodeConnection(c *connvault.Connection) connectionAnswer {
	return append(appendConnection(make([]byte, 0, 1024), c), '\n')
}

// buffers recycles the buffers of list pages (tens of KiB each).
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// putBuffer returns a list page's buffer to the pool, unless a page of
// unusually large connections grew it past what pages usually need.
func putBuffer(b *[]byte) {
	if cap(*b) <= 1<<20 {
		buffers.Put(b)
	}
}

// encodeList encodes a list page.
func encodeList(conns []*connvault.Connection, p gen.Pagination) *listAnswer {
	bp := buffers.Get().(*[]byte)
	b := append((*bp)[:0], `{"pagination":{"next_cursor":`...)
	b = appendOptString(b, p.NextCursor)
	b = append(b, `,"next_page":`...)
	b = appendOptString(b, p.NextPage)
	b = append(b, `,"page":`...)
	b = strconv.AppendInt(b, int64(p.Page), 10)
	b = append(b, `,"page_size":`...)
	b = strconv.AppendInt(b, int64(p.PageSize), 10)
	b = append(b, `,"previous_page":`...)
	b = appendOptString(b, p.PreviousPage)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(p.Total), 10)
	b = append(b, `,"total_pages":`...)
	b = strconv.AppendInt(b, int64(p.TotalPages), 10)
	b = append(b, `},"results":[`...)
	for i, c := range conns {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendConnection(b, c)
	}
	b = append(b, `],"total":`...)
	b = strconv.AppendInt(b, int64(p.Total), 10)
	b = append(b, "}\n"...)
	*bp = b
	return &listAnswer{buf: bp}
}

// appendConnection appends c as gen.StorageConnectionModel encodes, keys in
// the same (alphabetical) order.
func appendConnection(b []byte, c *connvault.Connection) []byte {
	b = append(b, `{"connection_id":`...)
	b = appendString(b, c.ID)
	b = append(b, `,"consecutive_failures":`...)
	b = strconv.AppendInt(b, int64(c.ConsecutiveFailures), 10)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, c.CreatedAt)
	b = append(b, `,"created_by_user_id":`...)
	b = appendString(b, c.CreatedByUserID)
	b = append(b, `,"description":`...)
	b = appendOptString(b, c.Description)
	b = append(b, `,"internal_id":`...)
	b = appendString(b, c.OrgID)
	b = append(b, `,"is_active":`...)
	b = strconv.AppendBool(b, c.IsActive())
	b = append(b, `,"last_checked_at":`...)
	b = appendOptTime(b, c.LastCheckedAt)
	b = append(b, `,"last_error":`...)
	b = appendOptString(b, c.LastError)
	b = append(b, `,"last_used_at":`...)
	b = appendOptTime(b, c.LastUsedAt)
	b = append(b, `,"metadata":`...)
	if len(c.Metadata) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, c.Metadata...)
	}
	b = append(b, `,"name":`...)
	b = appendString(b, c.Name)
	b = append(b, `,"provider_config":`...)
	if len(c.Config) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, c.Config...)
	}
	b = append(b, `,"provider_type":`...)
	b = appendString(b, c.ProviderType)
	b = append(b, `,"secret_fields":`...)
	if len(c.SecretFields) == 0 {
		b = append(b, "[]"...)
	} else {
		b = append(b, c.SecretFields...) // stored in the answer's shape
	}
	b = append(b, `,"status":`...)
	b = appendString(b, string(c.Status))
	b = append(b, `,"status_changed_at":`...)
	b = appendOptTime(b, c.StatusChangedAt)
	b = append(b, `,"status_reason":`...)
	b = appendOptString(b, c.StatusReason)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, c.UpdatedAt)
	return append(b, '}')
}

// appendTime writes t as time.Time's MarshalJSON does (RFC 3339 with as
// many fractional digits as needed); UTC times, which the store returns,
// without the general formatter.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	unix := t.Unix()
	if t.Location() != time.UTC || unix < 0 || unix >= maxFastUnix {
		b = t.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	// The civil date from the days since 1970 (Howard Hinnant's
	// civil_from_days): a list page formats ~300 times, and t.Date and
	// t.Clock each convert from the absolute time again.
	days, secs := unix/86400, int(unix%86400)
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := int(doy - (153*mp+2)/5 + 1)
	month := int(mp + 3)
	if mp >= 10 {
		month = int(mp - 9)
	}
	year := int(yoe + era*400)
	if month <= 2 {
		year++
	}
	b = appendTwo(appendTwo(b, year/100), year%100)
	b = append(b, '-')
	b = appendTwo(b, month)
	b = append(b, '-')
	b = appendTwo(b, day)
	b = append(b, 'T')
	b = appendTwo(b, secs/3600)
	b = append(b, ':')
	b = appendTwo(b, secs/60%60)
	b = append(b, ':')
	b = appendTwo(b, secs%60)
	if ns := t.Nanosecond(); ns != 0 {
		digits := 9
		for ns%10 == 0 {
			ns /= 10
			digits--
		}
		b = append(b, '.')
		b = appendDigits(b, ns, digits)
	}
	return append(b, 'Z', '"')
}

// maxFastUnix is 10000-01-01T00:00:00Z: appendTime's own conversion covers
// the four-digit years from 1970.
const maxFastUnix = 253402300800

// appendTwo appends 0 <= n < 100 as two digits.
func appendTwo(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// appendDigits appends n as exactly width digits (width <= 9).
func appendDigits(b []byte, n, width int) []byte {
	var buf [9]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, buf[:width]...)
}

func appendOptTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendTime(b, *t)
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does:
// quotes, backslashes and control characters escaped, <, > and & as
// \u003c, \u003e and \u0026, U+2028 and U+2029 escaped, invalid UTF-8
// replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\uFFFD"...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
