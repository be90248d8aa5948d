package providers

import (
	"context"
)

func init() {
	register("s3", []string{"credentials.secret_access_key", "credentials.session_token"}, checkS3, issueS3)
}

// s3Region is the configured region, us-east-1 by default.
func s3Region(c s3Config) string {
	if c.Region == "" {
		return "us-east-1"
	}
	return c.Region
}

func checkS3(ctx context.Context, c s3Config, env Env) Result {
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
		return listOneObject(ctx, env, target)
	}
	creds, fail := assumeRole(ctx, env, region, c.Credentials.RoleARN, c.Credentials.ExternalID, checkSession)
	if fail != nil {
		return fail.result()
	}
	target.accessKey, target.secretKey, target.sessionToken = creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken
	res := listOneObject(ctx, env, target)
	res.Steps = append([]Step{{Name: "assume role", Status: StepPassed, Message: "assumed the role"}}, res.Steps...)
	return res
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
