package providers

import (
	"context"
	"net/url"
	"strings"
)

func init() {
	register("sharepoint", []string{"credentials.client_secret", "credentials.refresh_token"}, checkSharePoint, issueSharePoint)
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

// graphDefaultScope asks for the permissions granted to the app registration
// as a whole: the only scope the client credentials grant accepts.
const graphDefaultScope = "https://graph.microsoft.com/.default"

// sharePointToken gets a Microsoft identity platform token: client
// credentials, or a delegated user's refresh token.
func sharePointToken(ctx context.Context, c sharePointConfig, env Env) (oauthToken, []Step, *stepError) {
	login := strings.TrimRight(env.Endpoint("sharepoint.login_base", "https://login.microsoftonline.com"), "/")
	cr := c.Credentials
	form := url.Values{"client_id": {cr.ClientID}, "client_secret": {cr.ClientSecret}}
	switch cr.Type {
	case "client_credentials":
		form.Set("grant_type", "client_credentials")
		form.Set("scope", graphDefaultScope)
	case "delegated":
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", cr.RefreshToken)
		form.Set("scope", graphDefaultScope+" offline_access")
	default:
		return oauthToken{}, nil, failed("read credentials", "credentials.type must be client_credentials or delegated")
	}
	if cr.TenantID == "" || strings.ContainsAny(cr.TenantID, "/?#") {
		return oauthToken{}, nil, failed("read credentials", "tenant_id must be a tenant GUID or domain")
	}
	return exchange(ctx, env, login+"/"+url.PathEscape(cr.TenantID)+"/oauth2/v2.0/token", form, nil)
}

// issueSharePoint hands out a Graph access token (with Rotated when
// Microsoft answers a new refresh token, as it does for delegated users).
func issueSharePoint(ctx context.Context, c sharePointConfig, env Env) (Issued, error) {
	return issueToken(sharePointToken(ctx, c, env))
}

// checkSharePoint gets a token and reads the drive, the site, or the
// tenant's root site through Microsoft Graph.
func checkSharePoint(ctx context.Context, c sharePointConfig, env Env) (res Result) {
	graph := strings.TrimRight(env.Endpoint("sharepoint.graph_base", "https://graph.microsoft.com"), "/")
	tok, steps, fail := sharePointToken(ctx, c, env)
	// Whatever follows, the exchange may have replaced the refresh token.
	defer func() { res.Rotated = tok.replacedSecrets() }()
	if fail != nil {
		return fail.result(steps...)
	}

	path, step, thing := "/v1.0/sites/root", "read site", "the root site"
	switch {
	case c.DriveID != "":
		path, step, thing = "/v1.0/drives/"+url.PathEscape(c.DriveID), "read drive", "the drive"
	case c.SiteID != "":
		// A site id is "host,site-guid,web-guid" or a path "host:/sites/name".
		site, ok := pathEscapeSegments(c.SiteID)
		if !ok {
			return failStep("read site", "site_id is not a Graph site id or site path", steps...)
		}
		path, thing = "/v1.0/sites/"+site, "the site"
	}
	var item struct {
		ID string `json:"id"`
	}
	if err := getJSON(ctx, env, graph+path+"?$select=id", "Bearer "+tok.AccessToken, &item); err != nil {
		return failStep(step, describeRead(err, thing), steps...)
	}
	msg := "read " + thing
	return Result{Success: true, Message: msg, Steps: append(steps, Step{Name: step, Status: StepPassed, Message: msg})}
}
