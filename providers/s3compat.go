package providers

import (
	"context"
	"crypto/tls"
	"errors"
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

// listOneObject is the check of every S3-compatible provider: the cheapest
// authenticated read-only call, ListObjectsV2 with max-keys=1.
func listOneObject(ctx context.Context, env Env, t s3Target) Result {
	var steps []Step
	u, err := url.Parse(t.endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return failStep("resolve endpoint", "endpoint_url must be an http or https URL")
	}
	if host := u.Hostname(); net.ParseIP(host) == nil {
		if _, err := env.LookupHost(ctx, host); err != nil {
			return failStep("resolve endpoint", "the endpoint host name could not be resolved")
		}
	}
	steps = append(steps, Step{Name: "resolve endpoint", Status: StepPassed, Message: u.Host})

	transport := env.HTTP.Transport
	if !t.verifyTLS {
		if ht, ok := transport.(*http.Transport); ok {
			ht = ht.Clone()
			ht.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user turned verify_ssl off
			transport = ht
		}
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(t.accessKey, t.secretKey, t.sessionToken),
		Secure:       u.Scheme == "https",
		Transport:    transport,
		Region:       t.region,
		BucketLookup: minio.BucketLookupPath,
		// A check asks once: retrying a refused credential only adds
		// failed logins, and the check has a deadline.
		MaxRetries: 1,
	})
	if err != nil {
		return failStep("authenticate", "the S3 client could not be set up (invalid endpoint)", steps...)
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
