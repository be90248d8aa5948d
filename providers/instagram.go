package providers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

func init() {
	Register(&Provider{
		Type:    "instagram",
		Secrets: []string{"credentials.client_secret", "credentials.access_token"},
		Check:   checkInstagram,
	})
}

type instagramConfig struct {
	BusinessAccountID string `json:"business_account_id"`
	Credentials       struct {
		AccessToken     string `json:"access_token"`
		InstagramUserID string `json:"instagram_user_id"`
	} `json:"credentials"`
}

// checkInstagram reads the token owner's profile (GET /me) and, when set,
// the business account. The Graph API takes the token as a query
// parameter, so errors are built here and never carry the request URL.
func checkInstagram(ctx context.Context, cfg Config, env Env) Result {
	var c instagramConfig
	if err := decodeConfig(cfg, &c); err != nil {
		return failed("read configuration", "the configuration cannot be read")
	}
	base := env.Endpoint("instagram.graph_base", "https://graph.instagram.com")
	var me struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	}
	if msg := instagramGet(ctx, env, base+"/me", "id,username", c.Credentials.AccessToken, &me); msg != "" {
		return failed("read profile", msg)
	}
	steps := []Step{{Name: "read profile", Status: StepPassed, Message: "the access token belongs to @" + me.Username}}
	if c.Credentials.InstagramUserID != "" && c.Credentials.InstagramUserID != me.ID {
		msg := "the access token belongs to another Instagram user"
		return Result{Message: msg, Steps: append(steps, Step{Name: "match user", Status: StepFailed, Message: msg})}
	}
	if c.BusinessAccountID != "" {
		var acct struct {
			ID string `json:"id"`
		}
		if msg := instagramGet(ctx, env, base+"/"+url.PathEscape(c.BusinessAccountID), "id", c.Credentials.AccessToken, &acct); msg != "" {
			return Result{Message: msg, Steps: append(steps, Step{Name: "read business account", Status: StepFailed, Message: msg})}
		}
		steps = append(steps, Step{Name: "read business account", Status: StepPassed, Message: "the business account is readable"})
	}
	return Result{Success: true, Message: "the access token works for @" + me.Username, Steps: steps}
}

// instagramGet calls the Graph API and returns a user-facing message on
// failure ("" on success).
func instagramGet(ctx context.Context, env Env, endpoint, fields, token string, out any) string {
	q := url.Values{"fields": {fields}, "access_token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return "the Instagram endpoint is not a valid URL"
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		// *url.Error would print the URL, token included: describe only.
		return Describe(unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body)
	if err != nil {
		return Describe(err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Type string `json:"type"`
				Code int    `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		switch {
		case e.Error.Code == 190:
			return "the access token is invalid or expired"
		case e.Error.Code == 10 || e.Error.Code == 200:
			return "the access token lacks the permission for this account"
		case resp.StatusCode == http.StatusNotFound || e.Error.Code == 100:
			return "the account was not found"
		}
		return Describe(&httpStatusError{Status: resp.StatusCode, Code: e.Error.Type})
	}
	if err := json.Unmarshal(body, out); err != nil {
		return "the Instagram answer is not the expected JSON"
	}
	return ""
}

// unwrapURLError drops the *url.Error wrapper (which names the URL).
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
