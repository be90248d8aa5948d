package providertest

import (
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// S3 is an S3-compatible double: path-style ListObjectsV2 and HeadBucket,
// AWS Signature V4 verified by recomputing it with the known secret.
type S3 struct {
	Server
	AccessKey string
	SecretKey string
	perBucket sync.Map // bucket -> *atomic.Int64

	mu      sync.Mutex
	keys    map[string]sigKey   // access key id -> secret (and session token)
	buckets map[string][]string // bucket -> object keys
	denied  map[string]bool     // buckets whose policy denies this key
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
	return &S3{AccessKey: accessKey, SecretKey: secretKey, buckets: buckets, denied: map[string]bool{},
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
	KeyCount    int      `xml:"KeyCount"`
	MaxKeys     int      `xml:"MaxKeys"`
	IsTruncated bool     `xml:"IsTruncated"`
	// NextContinuationToken is the key to continue after (opaque to clients).
	NextContinuationToken string `xml:"NextContinuationToken,omitempty"`
	Contents              []struct {
		Key          string `xml:"Key"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
		StorageClass string `xml:"StorageClass"`
	} `xml:"Contents"`
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
		q := r.URL.Query()
		maxKeys := 1000
		fmt.Sscan(q.Get("max-keys"), &maxKeys)
		res := listBucketResult{Name: bucket, Prefix: q.Get("prefix"), MaxKeys: maxKeys}
		var keys []string
		after := q.Get("continuation-token")
		for _, k := range objects {
			if strings.HasPrefix(k, q.Get("prefix")) && k > after {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		if len(keys) > maxKeys {
			keys, res.IsTruncated = keys[:maxKeys], true
			res.NextContinuationToken = keys[len(keys)-1]
		}
		for _, k := range keys {
			res.Contents = append(res.Contents, struct {
				Key          string `xml:"Key"`
				LastModified string `xml:"LastModified"`
				ETag         string `xml:"ETag"`
				Size         int64  `xml:"Size"`
				StorageClass string `xml:"StorageClass"`
			}{Key: k, LastModified: "2026-11-01T10:00:00.000Z", ETag: `"d41d8cd98f00b204e9800998ecf8427e"`, Size: 0, StorageClass: "STANDARD"})
		}
		res.KeyCount = len(res.Contents)
		w.Header().Set("Content-Type", "application/xml")
		_ = xml.NewEncoder(w).Encode(res)
	default:
		writeS3Error(w, http.StatusNotImplemented, "NotImplemented", "A header you provided implies functionality that is not implemented", resource)
	}
}
