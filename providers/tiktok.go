package providers

import (
	"context"
	"encoding/json"
	"net/http"
)

func init() {
	Register(&Provider{
		Type:    "tiktok",
		Secrets: []string{"credentials.client_secret", "credentials.access_token", "credentials.refresh_token"},
		Check:   checkTikTok,
	})
}

type tiktokConfig struct {
	Credentials struct {
		AccessToken string `json:"access_token"`
		OpenID      string `json:"open_id"`
	} `json:"credentials"`
}

// checkTikTok reads the token owner's basic profile (GET /v2/user/info/).
// TikTok answers {"data": {"user": {...}}, "error": {"code": "ok"}}.
func checkTikTok(ctx context.Context, cfg Config, env Env) Result {
	var c tiktokConfig
	if err := decodeConfig(cfg, &c); err != nil {
		return failed("read configuration", "the configuration cannot be read")
	}
	base := env.Endpoint("tiktok.api_base", "https://open.tiktokapis.com")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v2/user/info/?fields=open_id,display_name", nil)
	if err != nil {
		return failed("read profile", "the TikTok endpoint is not a valid URL")
	}
	req.Header.Set("Authorization", "Bearer "+c.Credentials.AccessToken)
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return failed("read profile", Describe(err))
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body)
	if err != nil {
		return failed("read profile", Describe(err))
	}
	var ans struct {
		Data struct {
			User struct {
				OpenID      string `json:"open_id"`
				DisplayName string `json:"display_name"`
			} `json:"user"`
		} `json:"data"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return failed("read profile", "the TikTok answer is not the expected JSON")
	}
	if resp.StatusCode != http.StatusOK || ans.Error.Code != "ok" {
		switch ans.Error.Code {
		case "access_token_invalid":
			return failed("read profile", "the access token is invalid or expired")
		case "scope_not_authorized":
			return failed("read profile", "the access token lacks the user.info.basic scope")
		}
		code := ans.Error.Code
		if !isShortCode(code) {
			code = ""
		}
		return failed("read profile", Describe(&httpStatusError{Status: resp.StatusCode, Code: code}))
	}
	steps := []Step{{Name: "read profile", Status: StepPassed, Message: "the access token belongs to " + ans.Data.User.DisplayName}}
	if c.Credentials.OpenID != "" && c.Credentials.OpenID != ans.Data.User.OpenID {
		msg := "the token belongs to another user"
		return Result{Message: msg, Steps: append(steps, Step{Name: "match user", Status: StepFailed, Message: msg})}
	}
	return Result{Success: true, Message: "the access token works", Steps: steps}
}
