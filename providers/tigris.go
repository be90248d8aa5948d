package providers

import "context"

func init() {
	register("tigris", []string{"credentials.secret_access_key", "credentials.session_token"}, checkTigris, issueAccessKey)
}

// Tigris speaks the S3 API; only its defaults differ.
func checkTigris(ctx context.Context, c s3Config, env Env) Result {
	region := c.Region
	if region == "" {
		region = "auto"
	}
	endpoint := c.EndpointURL
	if endpoint == "" {
		endpoint = "https://fly.storage.tigris.dev"
	}
	// A server-configured endpoint wins: it is how operators (and tests)
	// route Tigris traffic, and the spec fills in the public default.
	endpoint = env.Endpoint("tigris.endpoint_url", endpoint)
	return listOneObject(ctx, env, s3Target{
		endpoint: endpoint, region: region, bucket: c.Bucket, verifyTLS: true,
		accessKey: c.Credentials.AccessKeyID, secretKey: c.Credentials.SecretAccessKey, sessionToken: c.Credentials.SessionToken,
	})
}
