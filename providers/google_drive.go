package providers

import (
	"context"
	"net/url"
	"time"
)

func init() {
	Register(&Provider{
		Type:    "google_drive",
		Secrets: []string{"credentials.private_key", "credentials.client_secret", "credentials.refresh_token"},
		Check:   checkGoogleDrive,
	})
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

const driveReadonlyScope = "https://www.googleapis.com/auth/drive.readonly"

// checkGoogleDrive gets an access token (a signed service-account JWT or
// a refresh token exchanged at the token URL) and lists one file.
func checkGoogleDrive(ctx context.Context, cfg Config, env Env) Result {
	var c googleDriveConfig
	if err := decodeConfig(cfg, &c); err != nil {
		return failed("read configuration", "the configuration cannot be read")
	}
	tokenURL := env.Endpoint("google_drive.token_url", "https://oauth2.googleapis.com/token")
	apiBase := env.Endpoint("google_drive.api_base", "https://www.googleapis.com")
	var steps []Step
	var form url.Values
	switch c.Credentials.Type {
	case "service_account":
		key, err := parseRSAKey(c.Credentials.PrivateKey, "")
		if err != nil {
			return failed("read credentials", err.Error())
		}
		now := time.Now()
		claims := map[string]any{"iss": c.Credentials.ClientEmail, "scope": driveReadonlyScope, "aud": tokenURL,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if c.ImpersonateUser != "" {
			claims["sub"] = c.ImpersonateUser
		}
		assertion, err := signRS256(key, c.Credentials.PrivateKeyID, claims)
		if err != nil {
			return failed("read credentials", "the private key cannot sign")
		}
		steps = append(steps, Step{Name: "read credentials", Status: StepPassed, Message: "the service account key is valid"})
		form = url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	default: // oauth
		form = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.Credentials.RefreshToken},
			"client_id": {c.Credentials.ClientID}, "client_secret": {c.Credentials.ClientSecret}}
	}
	token, err := fetchToken(ctx, env, tokenURL, form)
	if err != nil {
		return Result{Message: Describe(err), Steps: append(steps, Step{Name: "authenticate", Status: StepFailed, Message: Describe(err)})}
	}
	steps = append(steps, Step{Name: "authenticate", Status: StepPassed, Message: "got an access token"})

	q := url.Values{"pageSize": {"1"}, "fields": {"files(id,name)"}}
	if c.SharedDriveID != "" {
		q.Set("corpora", "drive")
		q.Set("driveId", c.SharedDriveID)
		q.Set("includeItemsFromAllDrives", "true")
		q.Set("supportsAllDrives", "true")
	}
	if c.FolderID != "" {
		q.Set("q", "'"+c.FolderID+"' in parents")
	}
	var files struct {
		Files []struct {
			ID string `json:"id"`
		} `json:"files"`
	}
	if err := getJSON(ctx, env, apiBase+"/drive/v3/files?"+q.Encode(), "Bearer "+token, &files); err != nil {
		msg := Describe(err)
		return Result{Message: msg, Steps: append(steps, Step{Name: "list files", Status: StepFailed, Message: msg})}
	}
	msg := "listed files"
	if len(files.Files) == 0 {
		msg = "listed files (none visible yet)"
	}
	return Result{Success: true, Message: msg, Steps: append(steps, Step{Name: "list files", Status: StepPassed, Message: msg})}
}

// fetchToken posts an OAuth 2.0 token request and returns the access token.
func fetchToken(ctx context.Context, env Env, tokenURL string, form url.Values) (string, error) {
	req, err := postForm(ctx, tokenURL, form)
	if err != nil {
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := doJSON(env, req, &tok); err != nil {
		return "", err
	}
	if tok.AccessToken == "" {
		return "", errNoAccessToken
	}
	return tok.AccessToken, nil
}

var errNoAccessToken = invalidTokenAnswer{}

type invalidTokenAnswer struct{}

func (invalidTokenAnswer) Error() string {
	return "the token endpoint answered without an access token"
}
