package providers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
)

func init() {
	register("tiktok", []string{"credentials.client_secret", "credentials.access_token", "credentials.refresh_token"}, checkTikTok, issueTikTok)
}

type tiktokConfig struct {
	Credentials struct {
		ClientKey    string `json:"client_key"`
		ClientSecret string `json:"client_secret"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		OpenID       string `json:"open_id"`
	} `json:"credentials"`
}

// tiktokURL is the URL of a TikTok v2 path under the API base, with the
// trailing slash TikTok's paths have (JoinPath drops it).
func tiktokURL(env Env, path ...string) (*url.URL, bool) {
	u, err := url.Parse(env.Endpoint("tiktok.api_base", "https://open.tiktokapis.com"))
	if err != nil || u.Host == "" {
		return nil, false
	}
	u = u.JoinPath(path...)
	u.Path += "/"
	return u, true
}

// issueTikTok refreshes the user's access token at POST {api_base}/v2/
// oauth/token/. TikTok replaces the refresh token on every refresh and
// revokes the one used, so Rotated always carries the new one, and the
// new access token too: the config's access token is what the check reads
// with, and the stored one would expire within hours.
func issueTikTok(ctx context.Context, c tiktokConfig, env Env) (Issued, error) {
	u, ok := tiktokURL(env, "v2", "oauth", "token")
	if !ok {
		return Issued{}, failed("authenticate", "the TikTok endpoint is not a valid URL")
	}
	cr := c.Credentials
	if cr.RefreshToken == "" {
		return Issued{}, failed("read credentials", "credentials.refresh_token is needed to issue access tokens")
	}
	form := url.Values{"client_key": {cr.ClientKey}, "client_secret": {cr.ClientSecret},
		"grant_type": {"refresh_token"}, "refresh_token": {cr.RefreshToken}}
	tok, _, fail := exchange(ctx, env, u.String(), form, nil)
	if fail != nil {
		return Issued{}, fail
	}
	iss := tok.issued()
	replaced := map[string]any{"access_token": tok.AccessToken}
	if tok.rotated() {
		replaced["refresh_token"] = tok.RefreshToken
	}
	iss.Rotated = Config{"credentials": replaced}
	return iss, nil
}

// tiktokAnswer is the envelope of every TikTok v2 answer: the error object
// is present on success too, with code "ok".
type tiktokAnswer struct {
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

// checkTikTok reads the token owner's basic profile: GET
// {api_base}/v2/user/info/?fields=open_id,display_name with the access
// token as a bearer token (needs scope user.info.basic, which every TikTok
// login grants). With open_id configured the token must belong to it.
// checkTikTok reads the profile with the stored access token. TikTok's
// access tokens live hours; when the stored one has expired and a refresh
// token is configured, the check refreshes it (as a worker's credentials
// request does), reads again, and hands back the new tokens as Rotated:
// TikTok revokes the refresh token it was given.
func checkTikTok(ctx context.Context, c tiktokConfig, env Env) Result {
	res, expired := readTikTokProfile(ctx, c, env)
	if !expired || c.Credentials.RefreshToken == "" {
		return res
	}
	iss, err := issueTikTok(ctx, c, env)
	if err != nil {
		// The stored token's refusal stays the message; why the refresh
		// failed is one more step.
		why := "the refresh token was refused"
		var se *stepError
		if errors.As(err, &se) {
			why = se.msg
		}
		res.Steps = append(res.Steps, Step{Name: "refresh access token", Status: StepFailed, Message: why})
		return res
	}
	token, _ := iss.Credentials["access_token"].(string)
	c.Credentials.AccessToken = token
	res, _ = readTikTokProfile(ctx, c, env)
	res.Rotated = iss.Rotated
	return res
}

// readTikTokProfile reads the profile; expired says TikTok refused the
// access token as invalid or expired.
func readTikTokProfile(ctx context.Context, c tiktokConfig, env Env) (Result, bool) {
	u, ok := tiktokURL(env, "v2", "user", "info")
	if !ok {
		return failStep("read profile", "the TikTok endpoint is not a valid URL"), false
	}
	u.RawQuery = "fields=open_id,display_name"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return failStep("read profile", "the TikTok endpoint is not a valid URL"), false
	}
	req.Header.Set("Authorization", "Bearer "+c.Credentials.AccessToken)
	req.Header.Set("Accept", "application/json")
	// The envelope is read whatever the status: TikTok's error code is in it.
	raw, err := env.send(req, nil)
	if err != nil && !errors.As(err, new(*httpStatusError)) {
		return failStep("read profile", Describe(err)), false
	}
	var ans tiktokAnswer
	jsonErr := json.Unmarshal(raw.Body, &ans)
	if raw.Status != http.StatusOK || ans.Error.Code != "ok" {
		// Only the error code is used: TikTok's message text can quote
		// the request back.
		switch ans.Error.Code {
		case "access_token_invalid":
			return failStep("read profile", "the access token is invalid or expired"), true
		case "scope_not_authorized":
			return failStep("read profile", "the access token lacks the user.info.basic scope"), false
		case "rate_limit_exceeded":
			return failStep("read profile", "TikTok's rate limit was reached; try again later"), false
		}
		if raw.Status == http.StatusOK && jsonErr != nil {
			return failStep("read profile", "the TikTok answer is not the expected JSON"), false
		}
		return failStep("read profile", Describe(statusError(raw.Status, ans.Error.Code))), false
	}
	who := ans.Data.User.DisplayName
	if who == "" {
		who = "open_id " + ans.Data.User.OpenID
	}
	steps := []Step{{Name: "read profile", Status: StepPassed, Message: "the access token belongs to " + who}}
	if want := c.Credentials.OpenID; want != "" && want != ans.Data.User.OpenID {
		msg := "the token belongs to another user than open_id"
		return failStep("match user", msg, steps...), false
	}
	return Result{Success: true, Message: "the access token works for " + who, Steps: steps}, false
}
