package providertest

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// S3 is an S3-compatible double: path-style ListObjectsV2 (prefix,
// delimiter and common prefixes, max-keys, opaque continuation tokens,
// URL encoding) and HeadBucket, AWS Signature V4 verified by recomputing
// it with the known secret. Requests counts every request, BucketRequests
// those of one bucket.
type S3 struct {
	Server
	AccessKey string
	SecretKey string
	perBucket sync.Map // bucket -> *atomic.Int64

	mu      sync.Mutex
	keys    map[string]sigKey   // access key id -> secret (and session token)
	buckets map[string][]string // bucket -> object keys
	meta    map[string]map[string]objectMeta
	denied  map[string]bool // buckets whose policy denies this key
	failing atomic.Bool
	delay   atomic.Int64 // nanoseconds each answer waits
}

// SetDelay makes every answer wait d (or until the client gives up).
func (d *S3) SetDelay(delay time.Duration) { d.delay.Store(int64(delay)) }

// NewS3 starts a double with one access key and the given buckets.
func NewS3(t TB, accessKey, secretKey string, buckets map[string][]string) *S3 {
	t.Helper()
	d := newS3(accessKey, secretKey, buckets)
	d.start(t, d.serve, nil)
	return d
}

// NewS3TLS is NewS3 behind HTTPS with httptest's self-signed certificate,
// which no client trusts: for testing verify_ssl.
func NewS3TLS(t TB, accessKey, secretKey string, buckets map[string][]string) *S3 {
	t.Helper()
	d := newS3(accessKey, secretKey, buckets)
	d.startTLS(t, d.serve, nil)
	return d
}

func newS3(accessKey, secretKey string, buckets map[string][]string) *S3 {
	if buckets == nil {
		buckets = map[string][]string{}
	}
	return &S3{AccessKey: accessKey, SecretKey: secretKey, buckets: buckets, denied: map[string]bool{}, meta: map[string]map[string]objectMeta{},
		keys: map[string]sigKey{accessKey: {secret: secretKey}}}
}

// BucketRequests counts the requests that named bucket.
func (d *S3) BucketRequests(bucket string) int64 {
	if n, ok := d.perBucket.Load(bucket); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

// AddBucket creates a bucket.
func (d *S3) AddBucket(bucket string, keys ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buckets[bucket] = keys
}

// Deny makes the bucket's policy refuse the double's key (AccessDenied).
func (d *S3) Deny(bucket string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.denied[bucket] = true
}

// SetFailing makes every request fail as if the credentials were revoked.
func (d *S3) SetFailing(failing bool) { d.failing.Store(failing) }

// RotateSecret changes the secret key the double accepts.
func (d *S3) RotateSecret(secret string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.SecretKey = secret
	d.keys[d.AccessKey] = sigKey{secret: secret}
}

// AddTemporaryKey accepts a further key that must come with its session
// token, as temporary STS credentials do, until expires (zero: forever).
func (d *S3) AddTemporaryKey(accessKey, secret, sessionToken string, expires time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keys[accessKey] = sigKey{secret: secret, sessionToken: sessionToken, expires: expires}
}

type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource"`
	RequestID string   `xml:"RequestId"`
}

func writeS3Error(w http.ResponseWriter, status int, code, msg, resource string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(s3Error{Code: code, Message: msg, Resource: resource, RequestID: "4442587FB7D0A2F9"})
}

type listBucketResult struct {
	XMLName     xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name        string   `xml:"Name"`
	Prefix      string   `xml:"Prefix"`
	Delimiter   string   `xml:"Delimiter,omitempty"`
	KeyCount    int      `xml:"KeyCount"`
	MaxKeys     int      `xml:"MaxKeys"`
	IsTruncated bool     `xml:"IsTruncated"`
	// EncodingType is "url" when the request asked for it: keys and
	// prefixes are then URL-encoded, as S3 does.
	EncodingType      string `xml:"EncodingType,omitempty"`
	ContinuationToken string `xml:"ContinuationToken,omitempty"`
	// NextContinuationToken is opaque to clients (it encodes the last
	// entry listed, bound to the bucket, prefix and delimiter).
	NextContinuationToken string           `xml:"NextContinuationToken,omitempty"`
	Contents              []listedObject   `xml:"Contents"`
	CommonPrefixes        []listedPrefixes `xml:"CommonPrefixes"`
}

type listedObject struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

type listedPrefixes struct {
	Prefix string `xml:"Prefix"`
}

// objectMeta is what the double knows of an object beyond its key.
type objectMeta struct {
	size     int64
	modified time.Time
}

// defaultModified is the LastModified of objects added without one.
var defaultModified = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

// AddTree adds the files of root to bucket (creating it) under prefix
// ("" or ending in "/"), with their sizes and times; an empty folder
// becomes a zero-byte "folder/" marker object, as consoles create them.
// With SampleTree, prefixes are folders to a delimited ListObjectsV2.
func (d *S3) AddTree(bucket, prefix string, root *Entry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.meta[bucket] == nil {
		d.meta[bucket] = map[string]objectMeta{}
	}
	var walk func(e *Entry, at string)
	walk = func(e *Entry, at string) {
		for _, c := range e.Children {
			key := at + c.Name
			if c.Folder {
				if len(c.Children) == 0 {
					d.buckets[bucket] = append(d.buckets[bucket], key+"/")
					d.meta[bucket][key+"/"] = objectMeta{modified: c.Modified}
				}
				walk(c, key+"/")
				continue
			}
			d.buckets[bucket] = append(d.buckets[bucket], key)
			d.meta[bucket][key] = objectMeta{size: c.Size, modified: c.Modified}
		}
	}
	if _, ok := d.buckets[bucket]; !ok {
		d.buckets[bucket] = nil
	}
	walk(root, prefix)
}

// listObjectsV2 answers a ListObjectsV2 of objects (sorted here) with
// S3's rules: keys under prefix, rolled up at the delimiter into common
// prefixes, after the continuation token, max-keys entries (keys and
// prefixes together, at most 1000) per page.
func (d *S3) listObjectsV2(w http.ResponseWriter, r *http.Request, bucket string, objects []string, meta map[string]objectMeta) {
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	maxKeys := 1000
	if mk := q.Get("max-keys"); mk != "" {
		n, err := strconv.Atoi(mk)
		if err != nil || n < 0 {
			writeS3Error(w, http.StatusBadRequest, "InvalidArgument", "Provided max-keys not an integer or within integer range", "/"+bucket)
			return
		}
		maxKeys = min(n, 1000)
	}
	listing := bucket + "\x00" + prefix + "\x00" + delim
	after := ""
	if tok := q.Get("continuation-token"); tok != "" {
		last, ok := readS3Token(tok, listing)
		if !ok {
			writeS3Error(w, http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect", "/"+bucket)
			return
		}
		after = last
	}
	keys := append([]string(nil), objects...)
	sort.Strings(keys)
	type entry struct {
		name     string
		isPrefix bool
	}
	var entries []entry
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		e := entry{name: k}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				e = entry{name: k[:len(prefix)+i+len(delim)], isPrefix: true}
			}
		}
		if e.name <= after || (len(entries) > 0 && entries[len(entries)-1] == e) {
			continue
		}
		entries = append(entries, e)
	}
	res := listBucketResult{Name: bucket, Prefix: prefix, Delimiter: delim, MaxKeys: maxKeys, ContinuationToken: q.Get("continuation-token")}
	if len(entries) > maxKeys {
		entries, res.IsTruncated = entries[:maxKeys], true
		res.NextContinuationToken = s3Token(entries[len(entries)-1].name, listing)
	}
	encode := func(s string) string { return s }
	if q.Get("encoding-type") == "url" {
		res.EncodingType = "url"
		encode = func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/") }
		res.Prefix = encode(prefix)
	}
	for _, e := range entries {
		if e.isPrefix {
			res.CommonPrefixes = append(res.CommonPrefixes, listedPrefixes{Prefix: encode(e.name)})
			continue
		}
		m, ok := meta[e.name]
		if !ok {
			m.modified = defaultModified
		}
		res.Contents = append(res.Contents, listedObject{Key: encode(e.name), LastModified: m.modified.Format("2006-01-02T15:04:05.000Z"),
			ETag: `"d41d8cd98f00b204e9800998ecf8427e"`, Size: m.size, StorageClass: "STANDARD"})
	}
	res.KeyCount = len(entries)
	w.Header().Set("Content-Type", "application/xml")
	_ = xml.NewEncoder(w).Encode(res)
}

// s3Token is the opaque continuation token after entry in listing.
func s3Token(entry, listing string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(entry + "\x00" + listing))
}

// readS3Token is the entry a continuation token of listing continues
// after; ok is false for a token that is not one.
func readS3Token(token, listing string) (entry string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", false
	}
	entry, rest, found := strings.Cut(string(b), "\x00")
	return entry, found && rest == listing && entry != ""
}

func (d *S3) serve(w http.ResponseWriter, r *http.Request) {
	bucket := strings.Trim(strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0], "/")
	n, _ := d.perBucket.LoadOrStore(bucket, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	if delay := time.Duration(d.delay.Load()); delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	resource := "/" + bucket
	d.mu.Lock()
	keys := maps.Clone(d.keys)
	objects, exists := d.buckets[bucket]
	objects = append([]string(nil), objects...)
	meta := maps.Clone(d.meta[bucket])
	denied := d.denied[bucket]
	d.mu.Unlock()

	if code, msg := verifySigV4(r, keys, r.Header.Get("X-Amz-Content-Sha256")); code != "" {
		status := http.StatusForbidden
		writeS3Error(w, status, code, msg, resource)
		return
	}
	if d.failing.Load() {
		writeS3Error(w, http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", resource)
		return
	}
	if bucket == "" && r.Method == http.MethodGet {
		// ListBuckets (GET /): every bucket the double holds.
		d.mu.Lock()
		names := slices.Sorted(maps.Keys(d.buckets))
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>owner</ID><DisplayName>double</DisplayName></Owner><Buckets>`)
		for _, name := range names {
			fmt.Fprintf(w, `<Bucket><Name>%s</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate></Bucket>`, name)
		}
		fmt.Fprint(w, `</Buckets></ListAllMyBucketsResult>`)
		return
	}
	if !exists {
		writeS3Error(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist", resource)
		return
	}
	if denied {
		writeS3Error(w, http.StatusForbidden, "AccessDenied", "Access Denied", resource)
		return
	}
	switch {
	case r.Method == http.MethodHead:
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet && r.URL.Query().Has("location"):
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">us-east-1</LocationConstraint>`)
	case r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
		d.listObjectsV2(w, r, bucket, objects, meta)
	default:
		writeS3Error(w, http.StatusNotImplemented, "NotImplemented", "A header you provided implies functionality that is not implemented", resource)
	}
}
