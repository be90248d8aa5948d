package providers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
)

func init() {
	register("instagram", []string{"credentials.client_secret", "credentials.access_token"}, checkInstagram, issueInstagram)
}

type instagramConfig struct {
	BusinessAccountID string `json:"business_account_id"`
	Credentials       struct {
		AccessToken     string `json:"access_token"`
		InstagramUserID string `json:"instagram_user_id"`
	} `json:"credentials"`
}

// issueInstagram hands out the stored access token: it is already the
// token the Graph API takes (a long-lived one, which the user renews).
func issueInstagram(_ context.Context, c instagramConfig, _ Env) (Issued, error) {
	if c.Credentials.AccessToken == "" {
		return Issued{}, failed("read credentials", "credentials.access_token is empty")
	}
	return static(map[string]any{"access_token": c.Credentials.AccessToken})
}

// checkInstagram reads the token owner's profile (GET {graph_base}/me?
// fields=id,username) and, when business_account_id is set, that account
// (GET {graph_base}/{id}?fields=id). The Graph API takes the token as the
// access_token query parameter, so no error from these calls is ever
// printed as is: *url.Error would carry the URL and the token with it.
func checkInstagram(ctx context.Context, c instagramConfig, env Env) Result {
	token := c.Credentials.AccessToken
	if token == "" {
		return failStep("read profile", "credentials.access_token is empty")
	}
	base := env.Endpoint("instagram.graph_base", "https://graph.instagram.com")
	var me struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	}
	if msg := instagramGet(ctx, env, base, "me", "id,username", token, &me); msg != "" {
		return failStep("read profile", msg)
	}
	steps := []Step{{Name: "read profile", Status: StepPassed, Message: "the access token belongs to @" + me.Username}}
	if want := c.Credentials.InstagramUserID; want != "" && want != me.ID {
		msg := "the access token belongs to another Instagram user than instagram_user_id"
		return failStep("match user", msg, steps...)
	}
	if id := c.BusinessAccountID; id != "" {
		var acct struct {
			ID string `json:"id"`
		}
		if msg := instagramGet(ctx, env, base, id, "id", token, &acct); msg != "" {
			msg = "business account " + id + ": " + msg
			return failStep("read business account", msg, steps...)
		}
		steps = append(steps, Step{Name: "read business account", Status: StepPassed, Message: "the business account is readable"})
	}
	return Result{Success: true, Message: "the access token works for @" + me.Username, Steps: steps}
}

// instagramGet reads one Graph API node and returns a user-facing message
// on failure ("" on success).
func instagramGet(ctx context.Context, env Env, base, node, fields, token string, out any) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "the Instagram endpoint is not a valid URL"
	}
	// PathEscape keeps a business_account_id like "../x" one segment.
	u = u.JoinPath(url.PathEscape(node))
	u.RawQuery = url.Values{"fields": {fields}, "access_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "the Instagram endpoint is not a valid URL"
	}
	req.Header.Set("Accept", "application/json")
	// {"error":{"message":..,"type":"OAuthException","code":190,...}}: only
	// the type and the numeric code are used; message may quote the token.
	ans, err := env.send(req, jsonCode("error", "type"))
	var se *httpStatusError
	if errors.As(err, &se) {
		var e struct {
			Error struct {
				Code int `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(ans.Body, &e)
		switch e.Error.Code {
		case 190:
			return "the access token is invalid or expired"
		case 10, 200:
			return "the access token lacks the permission for this account"
		case 4, 17, 32, 613:
			return "Instagram's rate limit was reached; try again later"
		case 100:
			return "the account was not found or the token cannot see it"
		}
		return Describe(se)
	}
	if err != nil {
		return describeTokenInURL(err, token)
	}
	if err := json.Unmarshal(ans.Body, out); err != nil {
		return "the Instagram answer is not the expected JSON"
	}
	return ""
}
