package providers

import "context"

func init() {
	register("tigris", []string{"credentials.secret_access_key", "credentials.session_token"}, checkTigris, issueAccessKey, browsing(browseTigris),
		secretsBoundTo[s3Config]("endpoint_url"))
}

// tigrisTarget is where Tigris lists: it speaks the S3 API; only its
// defaults differ.
func tigrisTarget(c s3Config, env Env) s3Target {
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
	return s3Target{
		endpoint: endpoint, region: region, bucket: c.Bucket, verifyTLS: true,
		accessKey: c.Credentials.AccessKeyID, secretKey: c.Credentials.SecretAccessKey, sessionToken: c.Credentials.SessionToken,
	}
}

func checkTigris(ctx context.Context, c s3Config, env Env) Result {
	return listOneObject(ctx, env, tigrisTarget(c, env))
}

// browseTigris lists a folder of the bucket: prefixes are folders.
func browseTigris(ctx context.Context, c s3Config, env Env, q browseQuery) (browseListing, error) {
	return browseBucket(ctx, env, tigrisTarget(c, env), q)
}
