package providers

import "context"

func init() {
	register("backblaze", []string{"credentials.application_key"}, checkBackblaze, issueBackblaze, browsing(browseBackblaze),
		secretsBoundTo[s3Config]("endpoint_url"))
}

// issueBackblaze hands out the application key as stored: B2 has no
// shorter-lived credential for its S3-compatible API.
func issueBackblaze(_ context.Context, c s3Config, _ Env) (Issued, error) {
	return static(map[string]any{"key_id": c.Credentials.KeyID, "application_key": c.Credentials.ApplicationKey})
}

// backblazeTarget is where Backblaze B2 lists through its S3-compatible
// API, where the key id is the access key and the application key the
// secret.
func backblazeTarget(c s3Config, env Env) (s3Target, *stepError) {
	endpoint := c.EndpointURL
	if endpoint == "" && c.Region != "" {
		endpoint = "https://s3." + c.Region + ".backblazeb2.com"
	}
	endpoint = env.Endpoint("backblaze.endpoint_url", endpoint)
	if endpoint == "" {
		return s3Target{}, failed("resolve endpoint", "set endpoint_url or region: Backblaze's S3 endpoint depends on the account's region")
	}
	region := c.Region
	if region == "" {
		region = "us-west-004"
	}
	return s3Target{
		endpoint: endpoint, region: region, bucket: c.Bucket, verifyTLS: true,
		accessKey: c.Credentials.KeyID, secretKey: c.Credentials.ApplicationKey,
	}, nil
}

// Backblaze B2 is checked through its S3-compatible API.
func checkBackblaze(ctx context.Context, c s3Config, env Env) Result {
	t, fail := backblazeTarget(c, env)
	if fail != nil {
		return fail.result()
	}
	return listOneObject(ctx, env, t)
}

// browseBackblaze lists a folder of the bucket: prefixes are folders.
func browseBackblaze(ctx context.Context, c s3Config, env Env, q browseQuery) (browseListing, error) {
	t, fail := backblazeTarget(c, env)
	if fail != nil {
		return browseListing{}, fail
	}
	return browseBucket(ctx, env, t, q)
}
