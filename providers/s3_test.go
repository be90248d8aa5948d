package providers_test

import (
	"strings"
	"testing"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

func s3Config(endpoint, bucket, key, secret string) providers.Config {
	return providers.Config{
		"bucket": bucket, "endpoint_url": endpoint, "region": "us-east-1",
		"credentials": map[string]any{"type": "access_key", "access_key_id": key, "secret_access_key": secret},
	}
}

func TestS3Check(t *testing.T) {
	t.Parallel()
	const key, secret = "AKIATESTKEY", "s3-test-secret-wJalrXUtnFEMI"
	d := providertest.NewS3(t, key, secret, map[string][]string{"assets": {"a.txt", "b.txt"}, "empty": nil, "locked": {"x"}})
	d.Deny("locked")
	env := localEnv(nil)
	for _, tc := range []struct {
		name, bucket, key, secret string
		ok                        bool
		message                   string
		steps                     string
	}{
		{"lists one object", "assets", key, secret, true, "listed bucket assets",
			"resolve endpoint=PASSED,authenticate=PASSED,list bucket=PASSED"},
		{"empty bucket passes", "empty", key, secret, true, "no objects",
			"resolve endpoint=PASSED,authenticate=PASSED,list bucket=PASSED"},
		{"wrong secret", "assets", key, "wrong-secret-value", false, "the secret access key is wrong",
			"resolve endpoint=PASSED,authenticate=FAILED"},
		{"unknown key id", "assets", "AKIAOTHER", secret, false, "access key id is not known",
			"resolve endpoint=PASSED,authenticate=FAILED"},
		{"missing bucket", "nope-bucket", key, secret, false, "the bucket does not exist",
			"resolve endpoint=PASSED,authenticate=PASSED,list bucket=FAILED"},
		{"bucket policy denies", "locked", key, secret, false, "access denied by bucket policy",
			"resolve endpoint=PASSED,authenticate=PASSED,list bucket=FAILED"},
		// Mixpeek's clients send no bucket: ListBuckets proves the key.
		{"no bucket: the key is proven, the bucket step skipped", "", key, secret, true, "the credentials were accepted; no bucket configured: set bucket",
			"resolve endpoint=PASSED,authenticate=PASSED,list bucket=SKIPPED"},
		{"no bucket, wrong secret", "", key, "wrong-secret-value", false, "the secret access key is wrong",
			"resolve endpoint=PASSED,authenticate=FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := d.Requests.Load()
			res := rawCheck(t, "s3", s3Config(d.URL, tc.bucket, tc.key, tc.secret), env)
			if res.Success != tc.ok || !strings.Contains(res.Message, tc.message) {
				t.Fatalf("success=%v message=%q, want %v %q (steps %+v)", res.Success, res.Message, tc.ok, tc.message, res.Steps)
			}
			var got []string
			for _, s := range res.Steps {
				got = append(got, s.Name+"="+string(s.Status))
			}
			if strings.Join(got, ",") != tc.steps {
				t.Errorf("steps = %s, want %s", strings.Join(got, ","), tc.steps)
			}
			// One ListObjectsV2, no retry of a refused credential.
			if n := d.Requests.Load() - before; n != 1 {
				t.Errorf("the double served %d requests, want 1", n)
			}
			assertNoSecret(t, res, secret, "wrong-secret-value")
		})
	}
}

func TestS3CompatibleProviders(t *testing.T) {
	t.Parallel()
	d := providertest.NewS3(t, "tid", "tigris-secret-value", map[string][]string{"bkt": {"k"}})
	res := run(t, "tigris", providers.Config{"bucket": "bkt", "endpoint_url": d.URL,
		"credentials": map[string]any{"type": "access_key", "access_key_id": "tid", "secret_access_key": "tigris-secret-value"}}, localEnv(nil))
	if !res.Success {
		t.Errorf("tigris: %+v", res)
	}
	res = run(t, "tigris", providers.Config{"bucket": "bkt", "endpoint_url": d.URL,
		"credentials": map[string]any{"type": "access_key", "access_key_id": "tid", "secret_access_key": "not-it"}}, localEnv(nil))
	if res.Success || !strings.Contains(res.Message, "secret access key is wrong") {
		t.Errorf("tigris wrong secret: %+v", res)
	}

	b := providertest.NewS3(t, "0041234567890", "b2-application-key-value", map[string][]string{"b2-bucket": {"k"}})
	ok := run(t, "backblaze", providers.Config{"bucket": "b2-bucket", "endpoint_url": b.URL,
		"credentials": map[string]any{"type": "application_key", "key_id": "0041234567890", "application_key": "b2-application-key-value"}}, localEnv(nil))
	if !ok.Success {
		t.Errorf("backblaze: %+v", ok)
	}
	bad := rawCheck(t, "backblaze", providers.Config{"bucket": "b2-bucket", "endpoint_url": b.URL,
		"credentials": map[string]any{"type": "application_key", "key_id": "0041234567890", "application_key": "b2-wrong-key"}}, localEnv(nil))
	if bad.Success || !strings.Contains(bad.Message, "secret access key is wrong") {
		t.Errorf("backblaze wrong key: %+v", bad)
	}
	assertNoSecret(t, bad, "b2-wrong-key")
}

// The Tigris default endpoint is server configuration, so tests can point
// it at a double.
func TestEndpointOverride(t *testing.T) {
	t.Parallel()
	d := providertest.NewS3(t, "tid", "tigris-secret-value", map[string][]string{"bkt": nil})
	res := run(t, "tigris", providers.Config{"bucket": "bkt",
		"credentials": map[string]any{"type": "access_key", "access_key_id": "tid", "secret_access_key": "tigris-secret-value"}},
		localEnv(map[string]string{"tigris.endpoint_url": d.URL}))
	if !res.Success || d.Requests.Load() == 0 {
		t.Errorf("override not used: %+v (requests %d)", res, d.Requests.Load())
	}
}

func TestS3AssumeRole(t *testing.T) {
	t.Parallel()
	const role = "arn:aws:iam::123456789012:role/connvault-read"
	s3d := providertest.NewS3(t, "AKIAUNUSED", "unused-secret", map[string][]string{"role-bucket": {"a"}})
	sts := providertest.NewSTS(t, "AKIASERVER", "server-own-secret", role, "ext-42", s3d)
	env := func(secret string) providers.Env {
		e := localEnv(map[string]string{"s3.sts_url": sts.URL})
		e.AWS = providers.AWSCredentials{AccessKeyID: "AKIASERVER", SecretAccessKey: connvault.Secret(secret)}
		return e
	}
	cfg := func(roleARN, externalID string) providers.Config {
		return providers.Config{"bucket": "role-bucket", "endpoint_url": s3d.URL,
			"credentials": map[string]any{"type": "iam_role", "role_arn": roleARN, "external_id": externalID}}
	}
	runRawCases(t, "s3", env("server-own-secret"), []string{"server-own-secret"}, []rawCase{
		{"assumes the role and lists", cfg(role, "ext-42"), true, "listed bucket role-bucket"},
		{"wrong external id", cfg(role, "ext-99"), false, "trust policy"},
		{"another role", cfg("arn:aws:iam::123456789012:role/other", "ext-42"), false, "trust policy"},
	})
	if res := run(t, "s3", cfg(role, "ext-42"), env("not-the-server-secret")); res.Success || !strings.Contains(res.Message, "refused the server's own credentials") {
		t.Errorf("wrong server credentials: %+v", res)
	}
	if res := run(t, "s3", cfg(role, "ext-42"), localEnv(nil)); res.Success || !strings.Contains(res.Message, "CONNVAULT_AWS_ACCESS_KEY_ID") {
		t.Errorf("no server credentials: %+v", res)
	}
}

// verify_ssl=false is the user's explicit choice for one endpoint (a MinIO
// with a self-signed certificate); by default such an endpoint is refused.
func TestS3VerifySSL(t *testing.T) {
	t.Parallel()
	d := providertest.NewS3TLS(t, "AKIATLS", "tls-secret-value", map[string][]string{"tls-bucket": {"k"}})
	cfg := s3Config(d.URL, "tls-bucket", "AKIATLS", "tls-secret-value")
	res := run(t, "s3", cfg, localEnv(nil))
	if res.Success || !strings.Contains(res.Message, "TLS certificate is not trusted") {
		t.Errorf("self-signed endpoint with verify_ssl default: %+v", res)
	}
	cfg["verify_ssl"] = false
	if res := run(t, "s3", cfg, localEnv(nil)); !res.Success {
		t.Errorf("verify_ssl=false: %+v", res)
	}
	// The choice is per check: the shared client still verifies.
	delete(cfg, "verify_ssl")
	if res := run(t, "s3", cfg, localEnv(nil)); res.Success {
		t.Errorf("verify_ssl=false leaked into the shared transport: %+v", res)
	}
}

func TestBackblazeNeedsAnEndpoint(t *testing.T) {
	t.Parallel()
	res := run(t, "backblaze", providers.Config{"bucket": "b",
		"credentials": map[string]any{"type": "application_key", "key_id": "k", "application_key": "b2-secret-value"}}, localEnv(nil))
	if res.Success || !strings.Contains(res.Message, "set endpoint_url or region") {
		t.Errorf("got %+v", res)
	}
	// With a region the endpoint is derived; tests resolve nothing but
	// localhost, so the derived AWS-style name fails to resolve, locally.
	res = run(t, "backblaze", providers.Config{"bucket": "b", "region": "us-west-004",
		"credentials": map[string]any{"type": "application_key", "key_id": "k", "application_key": "b2-secret-value"}}, localEnv(nil))
	if res.Success || !strings.Contains(res.Message, "could not be resolved") {
		t.Errorf("derived endpoint: %+v", res)
	}
}

// A role is assumed at its bucket's region's STS endpoint, signed for that
// region: the global endpoint refuses any signature but us-east-1's, so an
// iam_role connection in eu-west-1 failed every check and issue. A region
// that is no AWS region's name never becomes part of a host name.
func TestSTSEndpointOfARegion(t *testing.T) {
	for _, tc := range []struct{ region, url, signing string }{
		{"eu-west-1", "https://sts.eu-west-1.amazonaws.com", "eu-west-1"},
		{"us-east-1", "https://sts.us-east-1.amazonaws.com", "us-east-1"},
		{"us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com", "us-gov-west-1"},
		{"cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn", "cn-north-1"},
		{"", "https://sts.amazonaws.com", "us-east-1"},
		{"eu-west-1.attacker.example/x", "https://sts.amazonaws.com", "us-east-1"},
		{"auto", "https://sts.amazonaws.com", "us-east-1"},
	} {
		if url, signing := providers.STSEndpoint(tc.region); url != tc.url || signing != tc.signing {
			t.Errorf("region %q: %s signed for %s, want %s signed for %s", tc.region, url, signing, tc.url, tc.signing)
		}
	}
}
