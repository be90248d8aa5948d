package providers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Config is the part of an S3-style config the check needs.
type s3Config struct {
	Bucket      string `json:"bucket"`
	Region      string `json:"region"`
	EndpointURL string `json:"endpoint_url"`
	VerifySSL   *bool  `json:"verify_ssl"`
	Prefix      string `json:"prefix"`
	Credentials struct {
		Type            string `json:"type"`
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
		SessionToken    string `json:"session_token"`
		KeyID           string `json:"key_id"`
		ApplicationKey  string `json:"application_key"`
		RoleARN         string `json:"role_arn"`
		ExternalID      string `json:"external_id"`
	} `json:"credentials"`
}

// s3Target is where and as whom an S3-compatible check lists.
type s3Target struct {
	endpoint, region, bucket, prefix   string
	verifyTLS                          bool
	accessKey, secretKey, sessionToken string
}

// issueAccessKey hands out an S3-style access key as stored (Tigris, and
// S3's access_key credentials): it has no shorter-lived form.
func issueAccessKey(_ context.Context, c s3Config, _ Env) (Issued, error) {
	creds := map[string]any{"access_key_id": c.Credentials.AccessKeyID, "secret_access_key": c.Credentials.SecretAccessKey}
	if c.Credentials.SessionToken != "" {
		creds["session_token"] = c.Credentials.SessionToken
	}
	return static(creds)
}

// s3Client sets up the client of every S3-compatible check and browse:
// the endpoint resolved through the Env, TLS verified unless the user
// turned verify_ssl off, and every request through the Env's guarded
// transport, bound to ctx and with its answer bounded to
// maxResponseBytes. It returns the steps that passed, on failure too.
func s3Client(ctx context.Context, env Env, t s3Target) (*minio.Client, []Step, *stepError) {
	u, err := url.Parse(t.endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, nil, failed("resolve endpoint", "endpoint_url must be an http or https URL")
	}
	if host := u.Hostname(); net.ParseIP(host) == nil {
		if _, err := env.LookupHost(ctx, host); err != nil {
			return nil, nil, failed("resolve endpoint", "the endpoint host name could not be resolved")
		}
	}
	steps := []Step{{Name: "resolve endpoint", Status: StepPassed, Message: u.Host}}

	transport := env.HTTP.Transport
	if !t.verifyTLS {
		if ht, ok := transport.(*http.Transport); ok {
			ht = ht.Clone()
			ht.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user turned verify_ssl off
			transport = ht
		}
	}
	if transport == nil {
		transport = http.DefaultTransport
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(t.accessKey, t.secretKey, t.sessionToken),
		Secure:       u.Scheme == "https",
		Transport:    boundTransport{base: transport, ctx: ctx},
		Region:       t.region,
		BucketLookup: minio.BucketLookupPath,
		// A check asks once: retrying a refused credential only adds
		// failed logins, and the check has a deadline.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, steps, failed("authenticate", "the S3 client could not be set up (invalid endpoint)")
	}
	return client, steps, nil
}

// boundTransport sends every request of an S3 client under ctx (minio's
// Core calls carry no context of their own) and bounds each answer to
// maxResponseBytes, as Env.send does for the other providers.
type boundTransport struct {
	base http.RoundTripper
	ctx  context.Context
}

func (t boundTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req.WithContext(t.ctx))
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: maxResponseBytes}
	return resp, nil
}

// limitedBody fails a read past its limit with errResponseTooLarge.
type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := b.ReadCloser.Read(one[:]); n > 0 {
			return 0, errResponseTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// listOneObject is the check of every S3-compatible provider: the cheapest
// authenticated read-only call, ListObjectsV2 with max-keys=1.
func listOneObject(ctx context.Context, env Env, t s3Target) Result {
	client, steps, fail := s3Client(ctx, env, t)
	if fail != nil {
		return fail.result(steps...)
	}
	if t.bucket == "" {
		return listBuckets(ctx, client, steps)
	}
	// One object, or the end of an empty listing, is proof enough. The
	// iterator is pulled once and stopped: minio-go's channel form keeps
	// fetching the next page in the background, a second request.
	next, stop := iter.Pull(client.ListObjectsIter(ctx, t.bucket, minio.ListObjectsOptions{MaxKeys: 1, Prefix: t.prefix}))
	obj, found := next()
	stop()
	if found && obj.Err != nil {
		msg := describeS3(obj.Err)
		// Name the step at fault: a refused key or signature is the
		// credentials, anything after S3 accepted them is the bucket.
		if s3AuthCodes[minio.ToErrorResponse(obj.Err).Code] {
			return failStep("authenticate", msg, steps...)
		}
		if minio.ToErrorResponse(obj.Err).Code != "" {
			steps = append(steps, Step{Name: "authenticate", Status: StepPassed, Message: "the credentials were accepted"})
		}
		return failStep("list bucket", msg, steps...)
	}
	if err := ctx.Err(); err != nil && !found {
		return failStep("list bucket", Describe(err), steps...)
	}
	msg := "listed bucket " + t.bucket
	if !found {
		msg += " (no objects under the prefix yet)"
	}
	steps = append(steps, Step{Name: "authenticate", Status: StepPassed, Message: "the credentials were accepted"},
		Step{Name: "list bucket", Status: StepPassed, Message: msg})
	return Result{Success: true, Message: msg, Steps: steps}
}

// listBuckets is the check of credentials without a bucket (Mixpeek's
// clients have no bucket field): ListBuckets proves the service accepts the
// signature; reading a bucket is SKIPPED, saying what to add.
func listBuckets(ctx context.Context, client *minio.Client, steps []Step) Result {
	buckets, err := client.ListBuckets(ctx)
	if err != nil {
		msg := describeS3(err)
		if code := minio.ToErrorResponse(err).Code; code == "" || s3AuthCodes[code] {
			return failStep("authenticate", msg, steps...)
		}
		// AccessDenied: the signature was accepted, listing buckets is
		// not allowed to this key, which is common and not a failure.
		steps = append(steps, Step{Name: "authenticate", Status: StepPassed, Message: "the credentials were accepted (listing buckets is not allowed to them)"})
	} else {
		steps = append(steps, Step{Name: "authenticate", Status: StepPassed, Message: fmt.Sprintf("the credentials were accepted (%d buckets visible)", len(buckets))})
	}
	msg := "no bucket configured: set bucket to prove it can be read"
	steps = append(steps, Step{Name: "list bucket", Status: StepSkipped, Message: msg})
	return Result{Success: true, Message: "the credentials were accepted; " + msg, Steps: steps}
}

// s3AuthCodes are the S3 error codes that refuse the credentials
// themselves, before any bucket is looked at.
var s3AuthCodes = map[string]bool{
	"InvalidAccessKeyId": true, "SignatureDoesNotMatch": true, "ExpiredToken": true, "InvalidToken": true,
	"TokenRefreshRequired": true, "AuthorizationHeaderMalformed": true,
}

// describeS3 names the cause of an S3 error for a user.
func describeS3(err error) string {
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "AccessDenied":
		return "access denied by bucket policy"
	case "InvalidAccessKeyId":
		return "the access key id is not known to the provider"
	case "SignatureDoesNotMatch":
		return "the secret access key is wrong"
	case "NoSuchBucket":
		return "the bucket does not exist"
	case "ExpiredToken", "InvalidToken":
		return "the session token is invalid or expired"
	case "":
	default:
		// Only a machine code is quoted: S3-compatible servers are many,
		// and their free text may echo what was sent.
		if isShortCode(resp.Code) {
			return "the provider refused the request (" + resp.Code + ")"
		}
		return "the provider refused the request"
	}
	if errors.Is(err, ErrBlockedAddress) {
		return blockedMessage(err)
	}
	msg := Describe(err)
	if strings.Contains(msg, "://") {
		return "could not reach the S3 endpoint"
	}
	return msg
}

// browseBucket is the browse of every S3-compatible provider: one
// ListObjectsV2 of t's bucket per page (more while the page has room),
// with delimiter "/" and the path, under the configured prefix, as the
// prefix. Common prefixes are the folders, objects the files (but the
// zero-byte "folder/" marker a console leaves for the listed folder
// itself); the continuation token is the page token and max-keys the room
// left on the page. S3 has no folders of its own: a path under which no
// object lies is not found.
func browseBucket(ctx context.Context, env Env, t s3Target, q browseQuery) (browseListing, error) {
	if t.bucket == "" {
		return browseListing{}, browseFailure("list bucket", "browsing lists a bucket's objects: set bucket in the configuration")
	}
	client, _, fail := s3Client(ctx, env, t)
	if fail != nil {
		return browseListing{}, fail
	}
	prefix := t.prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	for _, seg := range q.Segments {
		prefix += seg + "/"
	}
	core := minio.Core{Client: client}
	first := q.Token == "" && len(q.Segments) > 0
	items, next, err := pageThrough(q, func(token string, limit int) ([]BrowseItem, string, error) {
		res, err := core.ListObjectsV2(t.bucket, prefix, "", token, "/", limit)
		if err != nil {
			return nil, "", s3BrowseError(err)
		}
		if first && len(res.Contents) == 0 && len(res.CommonPrefixes) == 0 {
			return nil, "", notFound("list bucket", "the bucket holds no folder "+q.Path+" (no object has its prefix)")
		}
		first = false
		var got []BrowseItem
		if q.Kind == BrowseFolders {
			for _, cp := range res.CommonPrefixes {
				name := strings.TrimSuffix(strings.TrimPrefix(cp.Prefix, prefix), "/")
				got = append(got, BrowseItem{ID: cp.Prefix, Name: name, Path: q.itemPath(name), IsFolder: true})
			}
		} else {
			for _, obj := range res.Contents {
				if obj.Key == prefix {
					continue
				}
				name := strings.TrimPrefix(obj.Key, prefix)
				item := BrowseItem{ID: obj.Key, Name: name, Path: q.itemPath(name), Size: int64p(obj.Size)}
				if !obj.LastModified.IsZero() {
					mod := obj.LastModified.UTC()
					item.ModifiedAt = &mod
				}
				got = append(got, item)
			}
		}
		if !res.IsTruncated {
			return got, "", nil
		}
		return got, res.NextContinuationToken, nil
	})
	return browseListing{items: items, next: next}, err
}

// s3BrowseError is a failed ListObjectsV2 of a browse: a refused key or
// signature fails "authenticate", anything after S3 accepted them "list
// bucket".
func s3BrowseError(err error) *BrowseError {
	resp := minio.ToErrorResponse(err)
	step := "list bucket"
	if s3AuthCodes[resp.Code] {
		step = "authenticate"
	}
	e := browseFailure(step, describeS3(err))
	switch {
	case s3AuthCodes[resp.Code] || resp.Code == "AccessDenied" || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		e.Refused = true
	case resp.Code == "NoSuchBucket" || resp.StatusCode == http.StatusNotFound:
		e.NotFound = true
	}
	return e
}
