package providers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"time"
)

func init() {
	register("box", []string{"credentials.client_secret", "credentials.refresh_token", "credentials.private_key", "credentials.private_key_passphrase", "credentials.access_token"}, checkBox, issueBox, browsing(browseBox))
}

type boxConfig struct {
	FolderID    string `json:"folder_id"`
	Credentials struct {
		Type         string `json:"type"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		RefreshToken string `json:"refresh_token"`
		EnterpriseID string `json:"enterprise_id"`
		UserID       string `json:"user_id"`
		JWTKeyID     string `json:"jwt_key_id"`
		PrivateKey   string `json:"private_key"`
		Passphrase   string `json:"private_key_passphrase"`
	} `json:"credentials"`
}

// boxAPI is Box's API base, which also serves its token endpoint.
func boxAPI(env Env) string {
	return strings.TrimRight(env.Endpoint("box.api_base", "https://api.box.com"), "/")
}

// boxToken gets a token from Box's token endpoint: refresh token, client
// credentials grant, or a JWT assertion signed with the app's key. It
// returns the steps that passed, on failure too.
func boxToken(ctx context.Context, c boxConfig, env Env) (oauthToken, []Step, *stepError) {
	tokenURL := boxAPI(env) + "/oauth2/token"
	cr := c.Credentials
	// Every Box grant, the JWT one included, carries the client secret.
	form := url.Values{"client_id": {cr.ClientID}, "client_secret": {cr.ClientSecret}}
	var steps []Step
	switch cr.Type {
	case "oauth":
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", cr.RefreshToken)
	case "ccg":
		form.Set("grant_type", "client_credentials")
		switch {
		case cr.UserID != "": // a user is the narrower subject: prefer it
			form.Set("box_subject_type", "user")
			form.Set("box_subject_id", cr.UserID)
		case cr.EnterpriseID != "":
			form.Set("box_subject_type", "enterprise")
			form.Set("box_subject_id", cr.EnterpriseID)
		default:
			return oauthToken{}, nil, failed("read credentials", "ccg credentials need enterprise_id or user_id")
		}
	case "jwt":
		jti := make([]byte, 16)
		_, _ = rand.Read(jti)
		// Box refuses an exp more than 60 s ahead; 45 s leaves room for skew.
		assertion, err := signJWT(cr.PrivateKey, cr.Passphrase, cr.JWTKeyID, map[string]any{
			"iss": cr.ClientID, "sub": cr.EnterpriseID, "box_sub_type": "enterprise", "aud": tokenURL,
			"jti": hex.EncodeToString(jti), "exp": time.Now().Add(45 * time.Second).Unix(),
		})
		if err != nil {
			return oauthToken{}, nil, failed("read credentials", err.Error())
		}
		steps = append(steps, Step{Name: "read credentials", Status: StepPassed, Message: "the app key is a valid RSA key"})
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
		form.Set("assertion", assertion)
	default:
		return oauthToken{}, nil, failed("read credentials", "credentials.type must be oauth, ccg or jwt")
	}
	return exchange(ctx, env, tokenURL, form, steps)
}

// issueBox hands out an access token; a refresh-token grant always comes
// back with Rotated, as Box replaces the refresh token on every use.
func issueBox(ctx context.Context, c boxConfig, env Env) (Issued, error) {
	return issueToken(boxToken(ctx, c, env))
}

// checkBox gets a token and reads the configured folder, "0" (All Files)
// by default. Box revokes a refresh token once used: a check of oauth
// credentials spends the stored one (see Provider.Issue's Rotated).
func checkBox(ctx context.Context, c boxConfig, env Env) (res Result) {
	tok, steps, fail := boxToken(ctx, c, env)
	// Whatever follows, the exchange may have replaced the refresh token.
	defer func() { res.Rotated = tok.replacedSecrets() }()
	if fail != nil {
		return fail.result(steps...)
	}

	folder := c.FolderID
	if folder == "" {
		folder = "0"
	}
	var f struct {
		ID string `json:"id"`
	}
	if err := getJSON(ctx, env, boxAPI(env)+"/2.0/folders/"+url.PathEscape(folder)+"?fields=id,name", "Bearer "+tok.AccessToken, &f); err != nil {
		return failStep("read folder", describeRead(err, "the folder"), steps...)
	}
	// The folder's name is the user's data, not ours to echo into results
	// that end up in last_error and logs; its id is what they configured.
	msg := "read folder " + folder
	return Result{Success: true, Message: msg, Steps: append(steps, Step{Name: "read folder", Status: StepPassed, Message: msg})}
}

// boxItems is a page of GET /2.0/folders/{id}/items.
type boxItems struct {
	TotalCount int `json:"total_count"`
	Entries    []struct {
		Type       string `json:"type"`
		ID         string `json:"id"`
		Name       string `json:"name"`
		Size       *int64 `json:"size"`
		ModifiedAt string `json:"modified_at"`
	} `json:"entries"`
}

// boxResolvePages bounds the pages of a folder a browse reads to find a
// subfolder by name (1000 items each).
const boxResolvePages = 10

// browseBox lists a folder with GET /2.0/folders/{id}/items through the
// check's token exchange (whose rotated refresh token comes back as
// Rotated, on failure too). The browse root is folder_id ("0", All Files,
// by default); a path below it is resolved folder by folder by name,
// reading each folder's items up to boxResolvePages pages. The page token
// is the offset, limit the room left on the page.
func browseBox(ctx context.Context, c boxConfig, env Env, q browseQuery) (out browseListing, err error) {
	if q.Token != "" {
		if n, err := strconv.Atoi(q.Token); err != nil || n < 0 {
			return out, invalidBrowse("read cursor", "the cursor was not handed out by this listing (same kind and path)")
		}
	}
	tok, _, fail := boxToken(ctx, c, env)
	out.rotated = tok.replacedSecrets()
	if fail != nil {
		return out, fail
	}
	list := func(folder string, offset, limit int, fields string) (boxItems, error) {
		p := url.Values{"fields": {fields}, "limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)}}
		var ans boxItems
		err := getJSON(ctx, env, boxAPI(env)+"/2.0/folders/"+url.PathEscape(folder)+"/items?"+p.Encode(), "Bearer "+tok.AccessToken, &ans)
		return ans, err
	}
	folder := c.FolderID
	if folder == "" {
		folder = "0"
	}
	for i, seg := range q.Segments {
		found := ""
		for offset, pages := 0, 0; found == "" && pages < boxResolvePages; pages++ {
			res, err := list(folder, offset, 1000, "name")
			if err != nil {
				return out, readFailure("resolve path", err, "the folder")
			}
			for _, e := range res.Entries {
				if e.Type == "folder" && e.Name == seg {
					found = e.ID
					break
				}
			}
			if offset += len(res.Entries); len(res.Entries) == 0 || offset >= res.TotalCount {
				break
			}
		}
		if found == "" {
			return out, notFound("resolve path", "no folder /"+strings.Join(q.Segments[:i+1], "/")+" in the folder")
		}
		folder = found
	}
	out.items, out.next, err = pageThrough(q, func(token string, limit int) ([]BrowseItem, string, error) {
		offset, _ := strconv.Atoi(token)
		res, err := list(folder, offset, limit, "name,size,modified_at")
		if err != nil {
			return nil, "", readFailure("list folder", err, "the folder")
		}
		var got []BrowseItem
		for _, e := range res.Entries {
			if (e.Type != "folder" && e.Type != "file") || !q.wants(e.Type == "folder") {
				continue // web links are neither
			}
			item := BrowseItem{ID: e.ID, Name: e.Name, Path: q.itemPath(e.Name), ModifiedAt: timep(e.ModifiedAt), IsFolder: e.Type == "folder"}
			if !item.IsFolder {
				item.Size = e.Size
			}
			got = append(got, item)
		}
		if offset += len(res.Entries); len(res.Entries) == 0 || offset >= res.TotalCount {
			return got, "", nil
		}
		return got, strconv.Itoa(offset), nil
	})
	return out, err
}
