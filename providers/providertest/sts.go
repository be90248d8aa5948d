package providertest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// STS is a double of AWS STS AssumeRole: it verifies the caller's SigV4
// signature against the server identity it knows, checks the role ARN and
// external id against the role's trust policy, and hands out temporary
// credentials that the given S3 double then accepts until they expire
// (DurationSeconds, 900 to 43200, default 3600, as AWS allows).
type STS struct {
	Server
	RoleARN    string
	ExternalID string
	// TokenExchanges counts the AssumeRole requests, granted or refused:
	// one per exchange of the server's identity for temporary credentials.
	TokenExchanges atomic.Int64
}

// NewSTS starts the double; serverKey/serverSecret is the identity allowed
// to assume roleARN.
func NewSTS(t TB, serverKey, serverSecret, roleARN, externalID string, s3 *S3) *STS {
	t.Helper()
	d := &STS{RoleARN: roleARN, ExternalID: externalID}
	var issued atomic.Int64
	d.start(t, func(w http.ResponseWriter, r *http.Request) {
		d.TokenExchanges.Add(1)
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		sum := sha256.Sum256(body)
		stsErr := func(status int, code, msg string) {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(status)
			fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>c6104cbe</RequestId></ErrorResponse>`, code, msg)
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if code, msg := verifySigV4(r, map[string]sigKey{serverKey: {secret: serverSecret}}, hex.EncodeToString(sum[:])); code != "" {
			if code == "InvalidAccessKeyId" {
				code = "InvalidClientTokenId"
			}
			stsErr(http.StatusForbidden, code, msg)
			return
		}
		_ = r.ParseForm()
		f := r.PostForm
		if f.Get("Action") != "AssumeRole" {
			stsErr(http.StatusBadRequest, "InvalidAction", "unsupported in the double")
			return
		}
		duration := 3600
		if v := f.Get("DurationSeconds"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 900 || n > 43200 {
				stsErr(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint")
				return
			}
			duration = n
		}
		if f.Get("RoleArn") != d.RoleARN || f.Get("ExternalId") != d.ExternalID {
			stsErr(http.StatusForbidden, "AccessDenied", "User is not authorized to perform: sts:AssumeRole on resource: "+f.Get("RoleArn"))
			return
		}
		n := issued.Add(1)
		key, secret, token := fmt.Sprintf("ASIATEMP%08d", n), fmt.Sprintf("temp-secret-%d", n), fmt.Sprintf("FwoGZXIvYXdzEtemp%d", n)
		expires := time.Now().Add(time.Duration(duration) * time.Second).UTC().Truncate(time.Second)
		s3.AddTemporaryKey(key, secret, token, expires)
		session := f.Get("RoleSessionName")
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><AssumedRoleUser><Arn>%s/%s</Arn><AssumedRoleId>AROA:%s</AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>c6104cbe</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			d.RoleARN, session, session, key, secret, token, expires.Format(time.RFC3339))
	}, map[string]string{"s3.sts_url": ""})
	return d
}
