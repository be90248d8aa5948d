package providers_test

import (
	"testing"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

func brightDataConfig(token, zone, dataset string) providers.Config {
	c := providers.Config{"credentials": map[string]any{"type": "api_token", "api_token": token}}
	if zone != "" {
		c["zone"] = zone
	}
	if dataset != "" {
		c["dataset_id"] = dataset
	}
	return c
}

func TestBrightDataCheck(t *testing.T) {
	t.Parallel()
	const token, wrong = "brightdata-api-token-value", "brightdata-wrong-token"
	d := providertest.NewBrightData(t, token)
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	runRawCases(t, "brightdata", env, []string{token, wrong}, []rawCase{
		{"token alone", brightDataConfig(token, "", ""), true, "the API token works"},
		{"zone and dataset", brightDataConfig(token, providertest.BrightDataZone, providertest.BrightDataDataset), true, "works"},
		// The double answers 401 in plain text quoting the header.
		{"wrong token", brightDataConfig(wrong, "", ""), false, "authentication refused by the provider (HTTP 401 Unauthorized)"},
		{"unknown zone", brightDataConfig(token, "no_such_zone", ""), false, "zone no_such_zone is not an active zone"},
		{"unknown dataset", brightDataConfig(token, "", "gd_missing"), false, "dataset gd_missing cannot be read: the resource was not found"},
	})
}

func TestBrightDataCheckRequests(t *testing.T) {
	t.Parallel()
	d := providertest.NewBrightData(t, "tok")
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	expectResult(t, rawCheck(t, "brightdata", brightDataConfig("tok", providertest.BrightDataZone, providertest.BrightDataDataset), env), true, "works")
	if n := d.Requests.Load(); n != 2 {
		t.Errorf("double got %d requests, want 2 (zones, snapshots)", n)
	}
}
