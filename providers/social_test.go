package providers_test

import (
	"testing"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

func TestInstagramCheck(t *testing.T) {
	t.Parallel()
	const token = "IGQVJ-instagram-access-token"
	d := providertest.NewInstagram(t, token, "17841400000000999")
	cfg := func(tok, business, user string) providers.Config {
		c := providers.Config{"credentials": map[string]any{"type": "oauth", "client_id": "app", "client_secret": "ig-client-secret", "access_token": tok}}
		if business != "" {
			c["business_account_id"] = business
		}
		if user != "" {
			c["credentials"].(map[string]any)["instagram_user_id"] = user
		}
		return c
	}
	runCases(t, "instagram", localEnv(d.Endpoints()), []string{token, "IGQVJ-wrong-token-value", "ig-client-secret"}, []checkCase{
		{"reads the profile", cfg(token, "", ""), true, "@connvault_test"},
		{"reads the business account", cfg(token, "17841400000000999", "17841400000000001"), true, "@connvault_test"},
		{"wrong token", cfg("IGQVJ-wrong-token-value", "", ""), false, "invalid or expired"},
		{"unknown business account", cfg(token, "999", ""), false, "not found"},
		{"token of another user", cfg(token, "", "17841400000000777"), false, "another Instagram user"},
	})
}

func TestTikTokCheck(t *testing.T) {
	t.Parallel()
	const token = "act.tiktok-access-token-value"
	d := providertest.NewTikTok(t, token)
	cfg := func(tok, openID string) providers.Config {
		return providers.Config{"credentials": map[string]any{"type": "oauth", "client_key": "ck", "client_secret": "tt-client-secret",
			"access_token": tok, "refresh_token": "rft.tiktok-refresh", "open_id": openID}}
	}
	runCases(t, "tiktok", localEnv(d.Endpoints()), []string{token, "act.wrong-token-value", "tt-client-secret", "rft.tiktok-refresh"}, []checkCase{
		{"reads user info", cfg(token, "open-123"), true, "works"},
		{"wrong token", cfg("act.wrong-token-value", ""), false, "invalid or expired"},
		{"token of another user", cfg(token, "open-999"), false, "another user"},
	})
}

func TestBrightDataCheck(t *testing.T) {
	t.Parallel()
	const token = "brightdata-api-token-value"
	d := providertest.NewBrightData(t, token)
	cfg := func(tok, zone, dataset string) providers.Config {
		c := providers.Config{"credentials": map[string]any{"type": "api_token", "api_token": tok}}
		if zone != "" {
			c["zone"] = zone
		}
		if dataset != "" {
			c["dataset_id"] = dataset
		}
		return c
	}
	runCases(t, "brightdata", localEnv(d.Endpoints()), []string{token, "brightdata-wrong-token"}, []checkCase{
		{"token works", cfg(token, "web_unlocker1", "gd_l1viktl72bvl7bjuj0"), true, "works"},
		{"wrong token", cfg("brightdata-wrong-token", "", ""), false, "authentication refused"},
		{"unknown zone", cfg(token, "no_such_zone", ""), false, "not an active zone"},
		{"unknown dataset", cfg(token, "", "gd_missing"), false, "dataset cannot be read"},
	})
}
