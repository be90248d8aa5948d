package providers

import (
	"context"
	"net/url"
)

func init() {
	Register(&Provider{
		Type:    "sharepoint",
		Secrets: []string{"credentials.client_secret", "credentials.refresh_token"},
		Check:   checkSharePoint,
	})
}

type sharePointConfig struct {
	SiteID      string `json:"site_id"`
	DriveID     string `json:"drive_id"`
	Credentials struct {
		Type         string `json:"type"`
		TenantID     string `json:"tenant_id"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		RefreshToken string `json:"refresh_token"`
	} `json:"credentials"`
}

// checkSharePoint gets a Microsoft identity platform token (client
// credentials, or a delegated refresh token) and reads the site or drive
// through Microsoft Graph.
func checkSharePoint(ctx context.Context, cfg Config, env Env) Result {
	var c sharePointConfig
	if err := decodeConfig(cfg, &c); err != nil {
		return failed("read configuration", "the configuration cannot be read")
	}
	login := env.Endpoint("sharepoint.login_base", "https://login.microsoftonline.com")
	graph := env.Endpoint("sharepoint.graph_base", "https://graph.microsoft.com")
	form := url.Values{"client_id": {c.Credentials.ClientID}, "client_secret": {c.Credentials.ClientSecret}}
	if c.Credentials.Type == "delegated" {
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", c.Credentials.RefreshToken)
		form.Set("scope", "https://graph.microsoft.com/.default offline_access")
	} else {
		form.Set("grant_type", "client_credentials")
		form.Set("scope", "https://graph.microsoft.com/.default")
	}
	token, err := fetchToken(ctx, env, login+"/"+url.PathEscape(c.Credentials.TenantID)+"/oauth2/v2.0/token", form)
	if err != nil {
		return failed("authenticate", Describe(err))
	}
	steps := []Step{{Name: "authenticate", Status: StepPassed, Message: "got an access token"}}
	path, what := "/v1.0/sites/root", "read site"
	switch {
	case c.DriveID != "":
		path, what = "/v1.0/drives/"+url.PathEscape(c.DriveID), "read drive"
	case c.SiteID != "":
		path = "/v1.0/sites/" + url.PathEscape(c.SiteID)
	}
	var item struct {
		ID string `json:"id"`
	}
	if err := getJSON(ctx, env, graph+path, "Bearer "+token, &item); err != nil {
		msg := Describe(err)
		return Result{Message: msg, Steps: append(steps, Step{Name: what, Status: StepFailed, Message: msg})}
	}
	return Result{Success: true, Message: what + ": ok", Steps: append(steps, Step{Name: what, Status: StepPassed, Message: "readable"})}
}
