package providers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"
)

// stsCredentials are the temporary credentials AssumeRole returns.
type stsCredentials struct {
	AccessKeyID     string    `xml:"AccessKeyId"`
	SecretAccessKey string    `xml:"SecretAccessKey"`
	SessionToken    string    `xml:"SessionToken"`
	Expiration      time.Time `xml:"Expiration"`
}

// roleSession is what an assumed role is for: its session name (shown in
// the role's CloudTrail) and how long its credentials live.
type roleSession struct {
	name     string
	duration time.Duration
}

var (
	// checkSession is the shortest session AWS grants: a check lists once.
	checkSession = roleSession{name: "connvault-check", duration: 15 * time.Minute}
	// browseSession is as short: a browse lists a page or a few.
	browseSession = roleSession{name: "connvault-browse", duration: 15 * time.Minute}
	// syncSession is AWS's default session of an hour, for a sync worker.
	syncSession = roleSession{name: "connvault-sync", duration: time.Hour}
)

// assumeRole calls AWS STS AssumeRole as the server's own AWS identity for
// an S3 connection of credentials type iam_role: the connection stores only
// the role (and external id), the trust lies with the role's policy. It
// returns the temporary credentials, or why the role was not assumed.
func assumeRole(ctx context.Context, env Env, region, roleARN, externalID string, session roleSession) (stsCredentials, *stepError) {
	fail := func(msg string) (stsCredentials, *stepError) { return stsCredentials{}, failed("assume role", msg) }
	base := env.AWS
	if base.AccessKeyID == "" || base.SecretAccessKey == "" {
		return fail("assuming an IAM role needs the server's own AWS credentials (CONNVAULT_AWS_ACCESS_KEY_ID and CONNVAULT_AWS_SECRET_ACCESS_KEY)")
	}
	form := url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {roleARN},
		"RoleSessionName": {session.name}, "DurationSeconds": {strconv.Itoa(int(session.duration.Seconds()))}}
	if externalID != "" {
		form.Set("ExternalId", externalID)
	}
	body := form.Encode()
	regional, signingRegion := stsEndpoint(region)
	endpoint := env.Endpoint("s3.sts_url", regional)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader(body))
	if err != nil {
		return fail("the STS endpoint is not a valid URL")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	if tok := base.SessionToken.Reveal(); tok != "" {
		req.Header.Set("X-Amz-Security-Token", tok)
	}
	signed := signer.SignV4STS(*req, base.AccessKeyID, base.SecretAccessKey.Reveal(), signingRegion)
	sent := time.Now()
	raw, err := env.send(signed, awsErrorCode)
	var se *httpStatusError
	if errors.As(err, &se) {
		switch se.Code {
		case "AccessDenied":
			return stsCredentials{}, refusedStep("assume role", "the role's trust policy does not let this server assume it (check the role ARN and external id)")
		case "InvalidClientTokenId", "SignatureDoesNotMatch":
			return fail("AWS refused the server's own credentials (" + se.Code + ")")
		}
	}
	if err != nil {
		return fail(Describe(err))
	}
	var ans struct {
		Credentials stsCredentials `xml:"AssumeRoleResult>Credentials"`
	}
	if err := xml.Unmarshal(raw.Body, &ans); err != nil || ans.Credentials.AccessKeyID == "" {
		return fail("the STS answer holds no credentials")
	}
	if ans.Credentials.Expiration.IsZero() {
		ans.Credentials.Expiration = sent.Add(session.duration)
	}
	return ans.Credentials, nil
}

// stsEndpoint is AWS STS's endpoint for a bucket's region and the region
// to sign for. The global endpoint accepts only us-east-1 signatures, so a
// role is assumed at its bucket's own region's endpoint; a region that is
// not an AWS region's name (it comes from the connection's config, and
// names a host here) gets the global endpoint.
func stsEndpoint(region string) (url, signingRegion string) {
	if !awsRegionName.MatchString(region) {
		return "https://sts.amazonaws.com", "us-east-1"
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return "https://sts." + region + "." + domain, region
}

// awsRegionName matches AWS region names: us-east-1, eu-central-2,
// us-gov-west-1, ap-southeast-4, cn-north-1.
var awsRegionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// awsErrorCode finds the code of an AWS XML error body
// (<ErrorResponse><Error><Code>).
func awsErrorCode(body []byte) string {
	var e struct {
		Code string `xml:"Error>Code"`
	}
	_ = xml.Unmarshal(body, &e)
	return e.Code
}
