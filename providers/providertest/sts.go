package providertest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// STS is a double of AWS STS AssumeRole: it verifies the caller's SigV4
// signature against the server identity it knows, checks the role ARN and
// external id against the role's trust policy, and hands out temporary
// credentials that the given S3 double then accepts.
type STS struct {
	Server
	RoleARN    string
	ExternalID string
}

// NewSTS starts the double; serverKey/serverSecret is the identity allowed
// to assume roleARN.
func NewSTS(t TB, serverKey, serverSecret, roleARN, externalID string, s3 *S3) *STS {
	t.Helper()
	d := &STS{RoleARN: roleARN, ExternalID: externalID}
	var issued atomic.Int64
	d.start(t, func(w http.ResponseWriter, r *http.Request) {
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
		if f.Get("RoleArn") != d.RoleARN || f.Get("ExternalId") != d.ExternalID {
			stsErr(http.StatusForbidden, "AccessDenied", "User is not authorized to perform: sts:AssumeRole on resource: "+f.Get("RoleArn"))
			return
		}
		n := issued.Add(1)
		key, secret, token := fmt.Sprintf("ASIATEMP%08d", n), fmt.Sprintf("temp-secret-%d", n), fmt.Sprintf("FwoGZXIvYXdzEtemp%d", n)
		s3.AddTemporaryKey(key, secret, token)
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><AssumedRoleUser><Arn>%s/connvault-check</Arn><AssumedRoleId>AROA:connvault-check</AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>c6104cbe</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			d.RoleARN, key, secret, token)
	}, map[string]string{"s3.sts_url": ""})
	return d
}
