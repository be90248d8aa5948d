package providers

import (
	"context"
)

func init() {
	register("s3", []string{"credentials.secret_access_key", "credentials.session_token"}, checkS3, nil)
}

func checkS3(ctx context.Context, c s3Config, env Env) Result {
	region := c.Region
	if region == "" {
		region = "us-east-1"
	}
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
	creds, refused := assumeRole(ctx, env, region, c.Credentials.RoleARN, c.Credentials.ExternalID)
	if refused != "" {
		return failStep("assume role", refused)
	}
	target.accessKey, target.secretKey, target.sessionToken = creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken
	res := listOneObject(ctx, env, target)
	res.Steps = append([]Step{{Name: "assume role", Status: StepPassed, Message: "assumed the role"}}, res.Steps...)
	return res
}
