package providers_test

import (
	"testing"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

func tiktokConfig(token, openID string) providers.Config {
	creds := map[string]any{"type": "oauth", "client_key": "awexamplekey", "client_secret": "tt-client-secret",
		"access_token": token, "refresh_token": "rft.tiktok-refresh"}
	if openID != "" {
		creds["open_id"] = openID
	}
	return providers.Config{"credentials": creds, "scopes": []any{"user.info.basic"}}
}

func TestTikTokCheck(t *testing.T) {
	t.Parallel()
	const token, wrong = "act.tiktok-access-token-value", "act.wrong-token-value"
	d := providertest.NewTikTok(t, token)
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	runRawCases(t, "tiktok", env, []string{token, wrong, "tt-client-secret", "rft.tiktok-refresh"}, []rawCase{
		{"reads user info", tiktokConfig(token, providertest.TikTokOpenID), true, "works for Connvault Test"},
		{"no open_id to match", tiktokConfig(token, ""), true, "works"},
		// The double answers 401 access_token_invalid quoting the header.
		{"wrong token", tiktokConfig(wrong, ""), false, "the access token is invalid or expired"},
		{"token of another user", tiktokConfig(token, "open-999"), false, "the token belongs to another user"},
	})
}

func TestTikTokCheckIsOneRequest(t *testing.T) {
	t.Parallel()
	d := providertest.NewTikTok(t, "tok")
	env := providers.Env{HTTP: d.Client(), Endpoints: map[string]string{"tiktok.api_base": d.URL + "/"}}
	expectResult(t, rawCheck(t, "tiktok", tiktokConfig("tok", ""), env), true, "works")
	if n := d.Requests.Load(); n != 1 {
		t.Errorf("double got %d requests, want 1", n)
	}
}

// A stored access token that has expired is refreshed by the check, which
// then reads with the new one and hands back both new tokens as Rotated
// (TikTok revokes the refresh token used).
func TestTikTokCheckRefreshesAnExpiredToken(t *testing.T) {
	t.Parallel()
	d := providertest.NewTikTok(t, "act.only-what-the-double-issued")
	d.SetClient("awexamplekey", "tt-client-secret", "rft.tiktok-refresh")
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	p, _ := providers.Lookup("tiktok")
	res := providers.Run(t.Context(), p, tiktokConfig("act.expired-long-ago", ""), env)
	if !res.Success {
		t.Fatalf("check with an expired token: %+v", res)
	}
	creds, _ := res.Rotated["credentials"].(map[string]any)
	if creds["refresh_token"] != d.RefreshToken() || creds["access_token"] == "act.expired-long-ago" || creds["client_key"] != "awexamplekey" {
		t.Fatalf("Rotated = %v", res.Rotated)
	}
	if n := d.TokenExchanges.Load(); n != 1 {
		t.Errorf("%d token exchanges, want 1", n)
	}
	// A valid stored token is used as is: no exchange, nothing rotated.
	fresh := providers.Run(t.Context(), p, res.Rotated, env)
	if !fresh.Success || fresh.Rotated != nil || d.TokenExchanges.Load() != 1 {
		t.Errorf("check with the refreshed token: %+v (%d exchanges)", fresh, d.TokenExchanges.Load())
	}
}
