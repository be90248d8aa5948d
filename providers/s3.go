package providers

import (
	"context"
)

func init() {
	register("s3", []string{"credentials.secret_access_key", "credentials.session_token"}, checkS3, issueS3, browsing(browseS3),
		secretsBoundTo[s3Config]("endpoint_url"))
}

// s3Region is the configured region, us-east-1 by default.
func s3Region(c s3Config) string {
	if c.Region == "" {
		return "us-east-1"
	}
	return c.Region
}

// s3TargetOf is where and as whom an S3 connection lists: its endpoint
// (AWS's for its region by default), bucket and prefix, as its access
// key, or as its IAM role assumed for session (with the passed step).
func s3TargetOf(ctx context.Context, c s3Config, env Env, session roleSession) (s3Target, []Step, *stepError) {
	region := s3Region(c)
	endpoint := env.Endpoint("s3.endpoint_url", c.EndpointURL)
	if endpoint == "" {
		endpoint = "https://s3." + region + ".amazonaws.com"
	}
	target := s3Target{
		endpoint: endpoint, region: region, bucket: c.Bucket, prefix: c.Prefix, verifyTLS: c.VerifySSL == nil || *c.VerifySSL,
		accessKey: c.Credentials.AccessKeyID, secretKey: c.Credentials.SecretAccessKey, sessionToken: c.Credentials.SessionToken,
	}
	if c.Credentials.Type != "iam_role" {
		return target, nil, nil
	}
	creds, fail := assumeRole(ctx, env, region, c.Credentials.RoleARN, c.Credentials.ExternalID, session)
	if fail != nil {
		return s3Target{}, nil, fail
	}
	target.accessKey, target.secretKey, target.sessionToken = creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken
	return target, []Step{{Name: "assume role", Status: StepPassed, Message: "assumed the role"}}, nil
}

func checkS3(ctx context.Context, c s3Config, env Env) Result {
	target, steps, fail := s3TargetOf(ctx, c, env, checkSession)
	if fail != nil {
		return fail.result(steps...)
	}
	res := listOneObject(ctx, env, target)
	res.Steps = append(steps, res.Steps...)
	return res
}

// browseS3 lists a folder of the bucket (under its prefix) as the access
// key or the IAM role, assumed for a browse's short session.
func browseS3(ctx context.Context, c s3Config, env Env, q browseQuery) (browseListing, error) {
	target, _, fail := s3TargetOf(ctx, c, env, browseSession)
	if fail != nil {
		return browseListing{}, fail
	}
	return browseBucket(ctx, env, target, q)
}

// issueS3 hands out access keys as stored, and for an IAM role the
// temporary credentials of an hour's session, assumed as the server's own
// AWS identity (one STS call).
func issueS3(ctx context.Context, c s3Config, env Env) (Issued, error) {
	if c.Credentials.Type != "iam_role" {
		return issueAccessKey(ctx, c, env)
	}
	creds, fail := assumeRole(ctx, env, s3Region(c), c.Credentials.RoleARN, c.Credentials.ExternalID, syncSession)
	if fail != nil {
		return Issued{}, fail
	}
	return Issued{Credentials: map[string]any{"access_key_id": creds.AccessKeyID, "secret_access_key": creds.SecretAccessKey,
		"session_token": creds.SessionToken}, ExpiresAt: &creds.Expiration}, nil
}
