package providers

import (
	"context"
	"fmt"
	"net/url"
	"slices"
)

func init() {
	register("brightdata", []string{"credentials.api_token"}, checkBrightData, issueBrightData)
}

type brightDataConfig struct {
	Zone        string `json:"zone"`
	DatasetID   string `json:"dataset_id"`
	Credentials struct {
		APIToken string `json:"api_token"`
	} `json:"credentials"`
}

type brightDataZone struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// issueBrightData hands out the API token as stored: Bright Data has no
// shorter-lived credential.
func issueBrightData(_ context.Context, c brightDataConfig, _ Env) (Issued, error) {
	return static(map[string]any{"api_token": c.Credentials.APIToken})
}

// checkBrightData proves the API token with Bright Data's documented
// read-only account call, GET {api_base}/zone/get_active_zones (Account
// Management API, bearer token, answers [{"name","type"}]). A configured
// zone must be among the active ones. A configured dataset must be
// readable with GET /datasets/v3/snapshots?dataset_id=..&status=ready&limit=1
// (Web Scraper API "Get snapshots"), which lists at most one snapshot
// and triggers no collection, so the check costs nothing.
func checkBrightData(ctx context.Context, c brightDataConfig, env Env) Result {
	base, err := url.Parse(env.Endpoint("brightdata.api_base", "https://api.brightdata.com"))
	if err != nil || base.Host == "" {
		return failStep("authenticate", "the Bright Data endpoint is not a valid URL")
	}
	auth := "Bearer " + c.Credentials.APIToken
	var zones []brightDataZone
	if err := getJSON(ctx, env, base.JoinPath("zone", "get_active_zones").String(), auth, &zones); err != nil {
		return failStep("authenticate", "the API token was not accepted: "+Describe(err))
	}
	steps := []Step{{Name: "authenticate", Status: StepPassed, Message: fmt.Sprintf("the API token was accepted (%d active zones)", len(zones))}}
	if c.Zone != "" {
		if !slices.ContainsFunc(zones, func(z brightDataZone) bool { return z.Name == c.Zone }) {
			msg := "zone " + c.Zone + " is not an active zone of this account"
			return failStep("find zone", msg, steps...)
		}
		steps = append(steps, Step{Name: "find zone", Status: StepPassed, Message: "the zone is active"})
	}
	if c.DatasetID != "" {
		u := base.JoinPath("datasets", "v3", "snapshots")
		u.RawQuery = url.Values{"dataset_id": {c.DatasetID}, "status": {"ready"}, "limit": {"1"}}.Encode()
		var snapshots []struct {
			ID string `json:"id"`
		}
		if err := getJSON(ctx, env, u.String(), auth, &snapshots); err != nil {
			msg := "dataset " + c.DatasetID + " cannot be read: " + Describe(err)
			return failStep("read dataset", msg, steps...)
		}
		note := "the dataset is readable"
		if len(snapshots) == 0 {
			note += " (no ready snapshot yet)"
		}
		steps = append(steps, Step{Name: "read dataset", Status: StepPassed, Message: note})
	}
	return Result{Success: true, Message: "the API token works", Steps: steps}
}
