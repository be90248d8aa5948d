package providers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

// fetchToken posts an OAuth 2.0 token request (RFC 6749 section 4 and the
// RFC 7523 JWT bearer grant) and returns the access token. Google, Microsoft
// and Box all speak this same form-in, JSON-out exchange.
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

var errNoAccessToken = errors.New("the token endpoint answered without an access token")

// oauthRefusals are the RFC 6749 error codes that mean "these credentials
// are not accepted", as opposed to a malformed request or an outage.
var oauthRefusals = map[string]bool{
	"invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"invalid_scope": true, "access_denied": true,
}

// describeTokenError explains a failed token request. Token endpoints answer
// a refused credential with 400 or 401 depending on the provider; users only
// need to know it was refused, and the OAuth code says why.
func describeTokenError(err error) string {
	var se *httpStatusError
	if errors.As(err, &se) && (se.Status == http.StatusBadRequest || se.Status == http.StatusUnauthorized) && oauthRefusals[se.Code] {
		return "authentication refused by the provider (" + se.Error() + ")"
	}
	return Describe(err)
}

// describeRead explains a failed API read of thing ("the folder") made with
// a token the provider just issued, so 401 and 404 mean something specific.
func describeRead(err error, thing string) string {
	var se *httpStatusError
	if errors.As(err, &se) {
		switch se.Status {
		case http.StatusNotFound:
			return thing + " was not found, or the credentials cannot see it (" + se.Error() + ")"
		case http.StatusForbidden:
			return "access to " + thing + " was denied: the credentials lack a permission or scope (" + se.Error() + ")"
		case http.StatusUnauthorized:
			return "the provider issued a token but refused it on " + thing + " (" + se.Error() + ")"
		}
	}
	return Describe(err)
}
