package providers

import (
	"context"
	"net/url"
	"slices"
)

func init() {
	Register(&Provider{
		Type:    "brightdata",
		Secrets: []string{"credentials.api_token"},
		Check:   checkBrightData,
	})
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

// checkBrightData reads the account's active zones (GET /zone/get_active_zones,
// Bright Data's documented read-only account call) with the API token; with a
// zone configured it must be among them, and with a dataset configured its
// snapshot list (GET /datasets/v3/snapshots?dataset_id=...) must be readable.
func checkBrightData(ctx context.Context, cfg Config, env Env) Result {
	var c brightDataConfig
	if err := decodeConfig(cfg, &c); err != nil {
		return failed("read configuration", "the configuration cannot be read")
	}
	base := env.Endpoint("brightdata.api_base", "https://api.brightdata.com")
	auth := "Bearer " + c.Credentials.APIToken
	var zones []brightDataZone
	if err := getJSON(ctx, env, base+"/zone/get_active_zones", auth, &zones); err != nil {
		return failed("authenticate", Describe(err))
	}
	steps := []Step{{Name: "authenticate", Status: StepPassed, Message: "the API token was accepted"}}
	if c.Zone != "" {
		if !slices.ContainsFunc(zones, func(z brightDataZone) bool { return z.Name == c.Zone }) {
			msg := "zone " + c.Zone + " is not an active zone of this account"
			return Result{Message: msg, Steps: append(steps, Step{Name: "find zone", Status: StepFailed, Message: msg})}
		}
		steps = append(steps, Step{Name: "find zone", Status: StepPassed, Message: "the zone is active"})
	}
	if c.DatasetID != "" {
		var snapshots []map[string]any
		u := base + "/datasets/v3/snapshots?dataset_id=" + url.QueryEscape(c.DatasetID) + "&status=ready"
		if err := getJSON(ctx, env, u, auth, &snapshots); err != nil {
			msg := "the dataset cannot be read: " + Describe(err)
			return Result{Message: msg, Steps: append(steps, Step{Name: "read dataset", Status: StepFailed, Message: msg})}
		}
		steps = append(steps, Step{Name: "read dataset", Status: StepPassed, Message: "the dataset's snapshots are readable"})
	}
	return Result{Success: true, Message: "the API token works", Steps: steps}
}
