package providers

import (
	"context"
	"net/url"
	"strconv"
	"strings"
)

func init() {
	register("sharepoint", []string{"credentials.client_secret", "credentials.refresh_token"}, checkSharePoint, issueSharePoint, browsing(browseSharePoint))
}

type sharePointConfig struct {
	SiteID      string `json:"site_id"`
	DriveID     string `json:"drive_id"`
	FolderPath  string `json:"folder_path"`
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

// graphItem is a driveItem of a children listing: a folder or file facet
// tells which it is.
type graphItem struct {
	ID                   string `json:"id"`
	Name                 string `json:"name"`
	Size                 *int64 `json:"size"`
	LastModifiedDateTime string `json:"lastModifiedDateTime"`
	Folder               *struct {
		ChildCount int64 `json:"childCount"`
	} `json:"folder"`
	File *struct {
		MimeType string `json:"mimeType"`
	} `json:"file"`
}

// browseSharePoint lists a folder through Microsoft Graph with the
// check's token: GET {drive}/root/children for the root, else
// {drive}/root:/{path}:/children, where the drive is drive_id's, else
// site_id's default document library, else the root site's, and the path
// is folder_path (the browse root, inside the drive) joined with the
// request's. $top is the room left on the page; the page token is the
// $skiptoken of @odata.nextLink and nothing else of it: the next page is
// asked of the configured Graph, never of a host an answer names.
func browseSharePoint(ctx context.Context, c sharePointConfig, env Env, q browseQuery) (out browseListing, err error) {
	graph := strings.TrimRight(env.Endpoint("sharepoint.graph_base", "https://graph.microsoft.com"), "/")
	tok, _, fail := sharePointToken(ctx, c, env)
	out.rotated = tok.replacedSecrets()
	if fail != nil {
		return out, fail
	}
	drive, where := "/v1.0/sites/root/drive", "the root site's drive"
	switch {
	case c.DriveID != "":
		drive, where = "/v1.0/drives/"+url.PathEscape(c.DriveID), "the drive"
	case c.SiteID != "":
		site, ok := pathEscapeSegments(c.SiteID)
		if !ok {
			return out, browseFailure("list folder", "site_id is not a Graph site id or site path")
		}
		if strings.Contains(c.SiteID, ":/") {
			site += ":" // a site path ends where the next segment starts
		}
		drive, where = "/v1.0/sites/"+site+"/drive", "the site's drive"
	}
	base, bad := splitBrowsePath(c.FolderPath)
	if bad != nil {
		return out, browseFailure("list folder", "folder_path is not a folder path in the drive")
	}
	segs := append(base, q.Segments...)
	children := drive + "/root/children"
	if len(segs) > 0 {
		escaped := make([]string, len(segs))
		for i, s := range segs {
			escaped[i] = url.PathEscape(s)
		}
		children, where = drive+"/root:/"+strings.Join(escaped, "/")+":/children", "the folder"
	}
	out.items, out.next, err = pageThrough(q, func(token string, limit int) ([]BrowseItem, string, error) {
		p := url.Values{"$top": {strconv.Itoa(limit)}, "$select": {"id,name,size,lastModifiedDateTime,file,folder"}}
		if token != "" {
			p.Set("$skiptoken", token)
		}
		var ans struct {
			Value    []graphItem `json:"value"`
			NextLink string      `json:"@odata.nextLink"`
		}
		if err := getJSON(ctx, env, graph+children+"?"+p.Encode(), "Bearer "+tok.AccessToken, &ans); err != nil {
			return nil, "", readFailure("list folder", err, where)
		}
		var got []BrowseItem
		for _, it := range ans.Value {
			if it.Folder == nil && it.File == nil {
				continue // neither (a package, a OneNote notebook): nothing to sync
			}
			if !q.wants(it.Folder != nil) {
				continue
			}
			item := BrowseItem{ID: it.ID, Name: it.Name, Path: q.itemPath(it.Name), ModifiedAt: timep(it.LastModifiedDateTime), IsFolder: it.Folder != nil}
			if it.File != nil {
				item.MimeType, item.Size = it.File.MimeType, it.Size
			}
			got = append(got, item)
		}
		if ans.NextLink == "" {
			return got, "", nil
		}
		next, ok := graphSkipToken(ans.NextLink)
		if !ok {
			return nil, "", browseFailure("list folder", "the provider's next page link carries no $skiptoken")
		}
		return got, next, nil
	})
	return out, err
}

// graphSkipToken is the $skiptoken of an @odata.nextLink.
func graphSkipToken(nextLink string) (string, bool) {
	u, err := url.Parse(nextLink)
	if err != nil {
		return "", false
	}
	tok := u.Query().Get("$skiptoken")
	return tok, tok != ""
}
