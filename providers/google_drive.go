package providers

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"
)

func init() {
	register("google_drive", []string{"credentials.private_key", "credentials.client_secret", "credentials.refresh_token"}, checkGoogleDrive, issueGoogleDrive, browsing(browseGoogleDrive))
}

type googleDriveConfig struct {
	SharedDriveID   string `json:"shared_drive_id"`
	ImpersonateUser string `json:"impersonate_user"`
	FolderID        string `json:"folder_id"`
	Credentials     struct {
		Type         string `json:"type"`
		PrivateKeyID string `json:"private_key_id"`
		PrivateKey   string `json:"private_key"`
		ClientEmail  string `json:"client_email"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		RefreshToken string `json:"refresh_token"`
	} `json:"credentials"`
}

// driveReadonlyScope is the narrowest scope that lists files: a check must
// not ask for write access it will never use.
const driveReadonlyScope = "https://www.googleapis.com/auth/drive.readonly"

// googleDriveToken gets an access token: a signed service-account JWT,
// or a refresh token, exchanged at the token URL. It returns the steps
// that passed, on failure too.
func googleDriveToken(ctx context.Context, c googleDriveConfig, env Env) (oauthToken, []Step, *stepError) {
	tokenURL := env.Endpoint("google_drive.token_url", "https://oauth2.googleapis.com/token")
	cr := c.Credentials
	var steps []Step
	var form url.Values
	switch cr.Type {
	case "service_account":
		// RFC 7523 assertion as Google documents it for service accounts;
		// sub asks for domain-wide delegation to that user.
		now := time.Now()
		claims := map[string]any{"iss": cr.ClientEmail, "scope": driveReadonlyScope, "aud": tokenURL,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if c.ImpersonateUser != "" {
			claims["sub"] = c.ImpersonateUser
		}
		assertion, err := signJWT(cr.PrivateKey, "", cr.PrivateKeyID, claims)
		if err != nil {
			return oauthToken{}, nil, failed("read credentials", err.Error())
		}
		steps = append(steps, Step{Name: "read credentials", Status: StepPassed, Message: "the service account key is a valid RSA key"})
		form = url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	case "oauth":
		form = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cr.RefreshToken},
			"client_id": {cr.ClientID}, "client_secret": {cr.ClientSecret}}
	default:
		return oauthToken{}, nil, failed("read credentials", "credentials.type must be service_account or oauth")
	}
	return exchange(ctx, env, tokenURL, form, steps)
}

// issueGoogleDrive hands out an access token of the service account or
// the user (with Rotated, should Google replace the refresh token).
func issueGoogleDrive(ctx context.Context, c googleDriveConfig, env Env) (Issued, error) {
	return issueToken(googleDriveToken(ctx, c, env))
}

// checkGoogleDrive gets an access token and lists one file, inside the
// shared drive and folder when the config names them.
func checkGoogleDrive(ctx context.Context, c googleDriveConfig, env Env) (res Result) {
	apiBase := strings.TrimRight(env.Endpoint("google_drive.api_base", "https://www.googleapis.com"), "/")
	tok, steps, fail := googleDriveToken(ctx, c, env)
	// Whatever follows, the exchange may have replaced the refresh token.
	defer func() { res.Rotated = tok.replacedSecrets() }()
	if fail != nil {
		return fail.result(steps...)
	}

	q := url.Values{"pageSize": {"1"}, "fields": {"files(id)"}}
	thing := "the drive"
	if c.SharedDriveID != "" {
		// Drive only searches a shared drive when all four are set.
		q.Set("corpora", "drive")
		q.Set("driveId", c.SharedDriveID)
		q.Set("includeItemsFromAllDrives", "true")
		q.Set("supportsAllDrives", "true")
		thing = "the shared drive"
	}
	if c.FolderID != "" {
		q.Set("q", "'"+driveQueryEscape(c.FolderID)+"' in parents")
		thing = "the folder"
	}
	var files struct {
		Files []struct {
			ID string `json:"id"`
		} `json:"files"`
	}
	if err := getJSON(ctx, env, apiBase+"/drive/v3/files?"+q.Encode(), "Bearer "+tok.AccessToken, &files); err != nil {
		return failStep("list files", describeRead(err, thing), steps...)
	}
	msg := "listed files in " + thing
	if len(files.Files) == 0 {
		msg += " (none visible yet)"
	}
	return Result{Success: true, Message: msg, Steps: append(steps, Step{Name: "list files", Status: StepPassed, Message: msg})}
}

// driveQueryEscape escapes a value for a single-quoted Drive query string,
// so a folder id cannot change the query.
func driveQueryEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

// driveFolderType is the MIME type of Drive folders.
const driveFolderType = "application/vnd.google-apps.folder"

// driveFile is a file of a files.list answer; Drive sends int64 fields
// such as size as JSON strings.
type driveFile struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	MimeType     string `json:"mimeType"`
	Size         string `json:"size"`
	ModifiedTime string `json:"modifiedTime"`
}

// browseGoogleDrive lists a folder with files.list, through the check's
// token exchange. The browse root is the config's folder_id, else its
// shared drive (whose id is its root folder's), else My Drive ("root");
// a path below it is resolved folder by folder, one files.list by name
// per segment. The listing's query is '<folder>' in parents and
// trashed = false, with mimeType = (folders) or != (files) Drive's
// folder type; pageToken is the page token, pageSize the room left on
// the page; the shared-drive parameters are the check's.
func browseGoogleDrive(ctx context.Context, c googleDriveConfig, env Env, q browseQuery) (out browseListing, err error) {
	apiBase := strings.TrimRight(env.Endpoint("google_drive.api_base", "https://www.googleapis.com"), "/")
	tok, _, fail := googleDriveToken(ctx, c, env)
	out.rotated = tok.replacedSecrets()
	if fail != nil {
		return out, fail
	}
	list := func(query string, pageSize int, pageToken, fields string) (files []driveFile, next string, err error) {
		p := url.Values{"q": {query}, "pageSize": {strconv.Itoa(pageSize)}, "fields": {fields}, "orderBy": {"name"}}
		if c.SharedDriveID != "" {
			p.Set("corpora", "drive")
			p.Set("driveId", c.SharedDriveID)
			p.Set("includeItemsFromAllDrives", "true")
			p.Set("supportsAllDrives", "true")
		}
		if pageToken != "" {
			p.Set("pageToken", pageToken)
		}
		var ans struct {
			Files         []driveFile `json:"files"`
			NextPageToken string      `json:"nextPageToken"`
		}
		err = getJSON(ctx, env, apiBase+"/drive/v3/files?"+p.Encode(), "Bearer "+tok.AccessToken, &ans)
		return ans.Files, ans.NextPageToken, err
	}
	folder, where := c.FolderID, "the folder"
	switch {
	case folder != "":
	case c.SharedDriveID != "":
		folder, where = c.SharedDriveID, "the shared drive"
	default:
		folder, where = "root", "the drive"
	}
	for i, seg := range q.Segments {
		query := "'" + driveQueryEscape(folder) + "' in parents and name = '" + driveQueryEscape(seg) +
			"' and mimeType = '" + driveFolderType + "' and trashed = false"
		files, _, err := list(query, 1, "", "files(id)")
		if err != nil {
			return out, readFailure("resolve path", err, where)
		}
		if len(files) == 0 || files[0].ID == "" {
			return out, notFound("resolve path", "no folder /"+strings.Join(q.Segments[:i+1], "/")+" in "+where)
		}
		folder, where = files[0].ID, "the folder"
	}
	op := "!="
	if q.Kind == BrowseFolders {
		op = "="
	}
	query := "'" + driveQueryEscape(folder) + "' in parents and trashed = false and mimeType " + op + " '" + driveFolderType + "'"
	out.items, out.next, err = pageThrough(q, func(token string, limit int) ([]BrowseItem, string, error) {
		files, next, err := list(query, limit, token, "nextPageToken,files(id,name,mimeType,size,modifiedTime)")
		if err != nil {
			return nil, "", readFailure("list folder", err, where)
		}
		got := make([]BrowseItem, 0, len(files))
		for _, f := range files {
			item := BrowseItem{ID: f.ID, Name: f.Name, Path: q.itemPath(f.Name), MimeType: f.MimeType,
				ModifiedAt: timep(f.ModifiedTime), IsFolder: f.MimeType == driveFolderType}
			if !q.wants(item.IsFolder) {
				continue // the query asked Drive for the kind already
			}
			if n, err := strconv.ParseInt(f.Size, 10, 64); err == nil && !item.IsFolder {
				item.Size = &n
			}
			got = append(got, item)
		}
		return got, next, nil
	})
	return out, err
}
