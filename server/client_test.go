package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/gen/client"
	"github.com/connvault/connvault/providers/providertest"
)

// A Go user builds an S3 connection from the generated types alone, with
// no map[string]any, and reads typed answers back.
func TestGeneratedClientBuildsTypedS3Config(t *testing.T) {
	t.Parallel()
	d := providertest.NewS3(t, "AKIATYPED", "typed-client-secret", map[string][]string{"typed-bucket": {"x"}})
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	ctx := context.Background()

	var creds client.S3Credentials
	secret := client.SecretString("typed-client-secret")
	if err := creds.FromS3AccessKeyCredentials(client.S3AccessKeyCredentials{
		Type: new(client.S3AccessKeyCredentialsTypeAccessKey), AccessKeyId: "AKIATYPED", SecretAccessKey: &secret,
	}); err != nil {
		t.Fatal(err)
	}
	region := "us-east-1"
	var body client.CreateConnectionRequest
	if err := body.FromCreateS3ConnectionRequest(client.CreateS3ConnectionRequest{
		Name:           "typed",
		ProviderType:   client.CreateS3ConnectionRequestProviderTypeS3,
		ProviderConfig: client.S3Config{Bucket: new("typed-bucket"), Region: &region, EndpointUrl: &d.URL, Credentials: creds},
	}); err != nil {
		t.Fatal(err)
	}
	created, err := h.Client.CreateConnectionWithResponse(ctx, nil, body)
	if err != nil {
		t.Fatal(err)
	}
	if created.JSON200 == nil {
		t.Fatalf("create: %d %s", created.StatusCode(), created.Body)
	}
	c := created.JSON200
	if c.ProviderType != client.ProviderTypeS3 || !c.IsActive || c.Status != client.ConnectionStatusACTIVE {
		t.Errorf("created = %+v", c)
	}

	got, err := h.Client.GetConnectionWithResponse(ctx, c.ConnectionId)
	if err != nil || got.JSON200 == nil || got.JSON200.Name != "typed" {
		t.Fatalf("get: %v %s", err, got.Body)
	}
	limit := 10
	list, err := h.Client.ListConnectionsWithResponse(ctx, &client.ListConnectionsParams{Limit: &limit}, client.ListConnectionsJSONRequestBody{})
	if err != nil || list.JSON200 == nil || len(list.JSON200.Results) != 1 {
		t.Fatalf("list: %v %s", err, list.Body)
	}
	suspended := client.UserSettableStatusSUSPENDED
	patched, err := h.Client.UpdateConnectionWithResponse(ctx, c.ConnectionId, client.UpdateConnectionJSONRequestBody{Status: &suspended})
	if err != nil || patched.JSON200 == nil || patched.JSON200.IsActive {
		t.Fatalf("patch: %v %s", err, patched.Body)
	}
	tested, err := h.Client.TestConnectionWithResponse(ctx, c.ConnectionId)
	if err != nil || tested.JSON200 == nil || !tested.JSON200.Success {
		t.Fatalf("test: %v %s", err, tested.Body)
	}
	archived, err := h.Client.DeleteConnectionWithResponse(ctx, c.ConnectionId)
	if err != nil || archived.JSON200 == nil || archived.JSON200.Status != client.ConnectionStatusARCHIVED {
		t.Fatalf("delete: %v %s", err, archived.Body)
	}
	missing, err := h.Client.GetConnectionWithResponse(ctx, "typed")
	if err != nil || missing.JSON404 == nil || missing.JSON404.Error.Type != client.ErrorBodyTypeNotFoundError {
		t.Fatalf("get archived by name: %v %s", err, missing.Body)
	}
}

func TestCheckTimeoutIsA504(t *testing.T) {
	t.Parallel()
	d := providertest.NewS3(t, "AKIASLOW", "slow-secret", map[string][]string{"slow-bucket": {"x"}})
	h := connvaulttest.NewServer(t, connvaulttest.Options{CheckTimeout: 300 * time.Millisecond})
	d.SetDelay(5 * time.Second)
	r := h.Call(t, "POST", connectionsPath, s3Against(d, "slow", "slow-bucket", "slow-secret"))
	e := wantError(t, r, 504, "TimeoutError")
	if !strings.Contains(e.Message, "deadline") {
		t.Errorf("message = %v", e.Message)
	}
	body := s3Against(d, "slow", "slow-bucket", "slow-secret")
	body["test_before_save"] = false
	id := create(t, h, body).ConnectionId
	wantError(t, h.Call(t, "POST", connPath(id)+"/test", nil), 504, "TimeoutError")
	// A credential change whose check times out is refused the same way.
	patch := map[string]any{"provider_config": map[string]any{"credentials": map[string]any{"secret_access_key": "slow-secret-2"}}}
	wantError(t, h.Call(t, "PATCH", connPath(id), patch), 504, "TimeoutError")
	if got := get(t, h, id); got.ConsecutiveFailures != 1 {
		t.Errorf("a timed-out test is not recorded as a failure: %v", got.ConsecutiveFailures)
	}
}

// With private networks not allowed (the default), a check aimed at the
// server's own network is refused before any connection is made.
func TestSSRFGuardOverHTTP(t *testing.T) {
	t.Parallel()
	d := providertest.NewS3(t, "AKIASSRF", "ssrf-secret", map[string][]string{"ssrf-bucket": {"x"}})
	h := connvaulttest.NewServer(t, connvaulttest.Options{DenyPrivateNetworks: true})
	for _, endpoint := range []string{d.URL, "http://169.254.169.254", "http://10.0.0.1:9000", "http://[::1]:9000"} {
		body := s3Against(d, "ssrf", "ssrf-bucket", "ssrf-secret")
		body["provider_config"].(map[string]any)["endpoint_url"] = endpoint
		e := wantError(t, h.Call(t, "POST", connectionsPath, body), 422, "ValidationError")
		if !strings.Contains(e.Message, "refused to connect") {
			t.Errorf("%s: %v", endpoint, e.Message)
		}
	}
	if n := d.Requests.Load(); n != 0 {
		t.Errorf("the loopback double received %d requests", n)
	}
}
