package providers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// oauthToken is a token endpoint's answer (RFC 6749 section 5.1).
type oauthToken struct {
	AccessToken string
	TokenType   string
	// ExpiresAt is when the access token stops working: expires_in from
	// the moment the request was sent, or defaultTokenLife without one.
	ExpiresAt time.Time
	// RefreshToken is the one the answer carries, if any; spent is the
	// one the grant used ("" for grants without one). A different answer
	// replaced it: Box and TikTok revoke the spent one.
	RefreshToken, spent string
}

// defaultTokenLife is how long an access token is taken to live when the
// answer omits expires_in (RFC 6749 only recommends it): short, so that
// a cache asks again soon rather than hand out a dead token.
const defaultTokenLife = 10 * time.Minute

// fetchToken posts an OAuth 2.0 token request (RFC 6749 section 4 and the
// RFC 7523 JWT bearer grant) and returns the answer. Google, Microsoft,
// Box and TikTok all speak this same form-in, JSON-out exchange; it is the
// one exchange their checks and issues share.
func fetchToken(ctx context.Context, env Env, tokenURL string, form url.Values) (oauthToken, error) {
	req, err := postForm(ctx, tokenURL, form)
	if err != nil {
		return oauthToken{}, err
	}
	sent := time.Now()
	var ans struct {
		AccessToken  string  `json:"access_token"`
		TokenType    string  `json:"token_type"`
		ExpiresIn    seconds `json:"expires_in"`
		RefreshToken string  `json:"refresh_token"`
		Error        string  `json:"error"`
	}
	if err := doJSON(env, req, &ans); err != nil {
		return oauthToken{}, err
	}
	if ans.AccessToken == "" {
		if ans.Error != "" {
			return oauthToken{}, &tokenRefusal{Code: ans.Error}
		}
		return oauthToken{}, errNoAccessToken
	}
	life := time.Duration(ans.ExpiresIn) * time.Second
	if life <= 0 {
		life = defaultTokenLife
	}
	tok := oauthToken{AccessToken: ans.AccessToken, TokenType: ans.TokenType, ExpiresAt: sent.Add(life), RefreshToken: ans.RefreshToken}
	if form.Get("grant_type") == "refresh_token" {
		tok.spent = form.Get("refresh_token")
	}
	return tok, nil
}

// exchange is the "authenticate" step of a check and an issue: the token
// request after the steps that passed, as a token or the step's failure.
func exchange(ctx context.Context, env Env, tokenURL string, form url.Values, passed []Step) (oauthToken, []Step, *stepError) {
	tok, err := fetchToken(ctx, env, tokenURL, form)
	if err != nil {
		fail := failed("authenticate", describeTokenError(err))
		fail.refused = isTokenRefusal(err)
		fail.timedOut = isTimeout(err)
		return oauthToken{}, passed, fail
	}
	return tok, append(passed, Step{Name: "authenticate", Status: StepPassed, Message: "got an access token"}), nil
}

// issued hands out the access token until it expires. A refresh token
// other than the one spent goes into Rotated: the caller must store it.
func (t oauthToken) issued() Issued {
	tokenType := t.TokenType
	if tokenType == "" {
		tokenType = "Bearer"
	}
	return Issued{Credentials: map[string]any{"access_token": t.AccessToken, "token_type": tokenType}, ExpiresAt: &t.ExpiresAt,
		Rotated: t.replacedSecrets()}
}

// replacedSecrets is the part of the config the answer replaced (a new
// refresh token), nil when it replaced nothing; callers get it merged into
// the full config as Issued.Rotated or Result.Rotated.
func (t oauthToken) replacedSecrets() Config {
	if !t.rotated() {
		return nil
	}
	return Config{"credentials": map[string]any{"refresh_token": t.RefreshToken}}
}

// rotated reports whether the answer replaced the refresh token spent.
func (t oauthToken) rotated() bool {
	return t.spent != "" && t.RefreshToken != "" && t.RefreshToken != t.spent
}

// issueToken is the issue of a provider whose credentials are exchanged
// for an access token: the token, or the step that failed to get it. It
// takes what the providers' token functions return, so each issue is
// issueToken(xToken(ctx, c, env)).
func issueToken(tok oauthToken, _ []Step, fail *stepError) (Issued, error) {
	if fail != nil {
		return Issued{}, fail
	}
	return tok.issued(), nil
}

// seconds is expires_in, which some servers send as a string ("3599").
type seconds int64

func (s *seconds) UnmarshalJSON(b []byte) error {
	n, err := strconv.ParseInt(strings.Trim(string(b), `"`), 10, 64)
	if err == nil {
		*s = seconds(n)
	}
	return nil // an unreadable expires_in is a missing one
}

var errNoAccessToken = errors.New("the token endpoint answered without an access token")

// tokenRefusal is a 2xx answer that carries an OAuth error code instead of
// a token, as some token endpoints (TikTok's) answer.
type tokenRefusal struct{ Code string }

func (e *tokenRefusal) Error() string {
	if !isShortCode(e.Code) {
		return "the token endpoint refused the grant"
	}
	return "the token endpoint refused the grant (" + e.Code + ")"
}

// oauthRefusals are the RFC 6749 error codes that mean "these credentials
// are not accepted", as opposed to a malformed request or an outage.
var oauthRefusals = map[string]bool{
	"invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"invalid_scope": true, "access_denied": true,
}

// isTokenRefusal reports whether a token request failed because the
// credentials were refused (rather than the endpoint failing): an OAuth
// refusal code, or HTTP 401 or 403.
func isTokenRefusal(err error) bool {
	var se *httpStatusError
	if errors.As(err, &se) {
		return se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden ||
			(se.Status == http.StatusBadRequest && oauthRefusals[se.Code])
	}
	var tr *tokenRefusal
	return errors.As(err, &tr) && oauthRefusals[tr.Code]
}

// describeTokenError explains a failed token request. Token endpoints answer
// a refused credential with 400 or 401 depending on the provider; users only
// need to know it was refused, and the OAuth code says why.
func describeTokenError(err error) string {
	var se *httpStatusError
	if errors.As(err, &se) && (se.Status == http.StatusBadRequest || se.Status == http.StatusUnauthorized) && oauthRefusals[se.Code] {
		return "authentication refused by the provider (" + se.Error() + ")"
	}
	var tr *tokenRefusal
	if errors.As(err, &tr) && oauthRefusals[tr.Code] {
		return "authentication refused by the provider (" + tr.Code + ")"
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
