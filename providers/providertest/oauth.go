package providertest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Rotation is what a token endpoint double does with the refresh token of
// a refresh-token grant.
type Rotation int

const (
	// KeepRefreshToken answers no new refresh token: the one the client
	// holds stays the one to use (Google).
	KeepRefreshToken Rotation = iota
	// RotateRefreshToken answers a new refresh token on every refresh
	// grant and keeps accepting the earlier ones (Microsoft).
	RotateRefreshToken
	// RevokeUsedRefreshToken answers a new refresh token on every refresh
	// grant and refuses the one that was used from then on (Box, TikTok):
	// a client that does not store the new one loses the connection.
	RevokeUsedRefreshToken
)

// TokenEndpoint is the state of a double's OAuth token endpoint: the
// refresh tokens it accepts, the access tokens it issued (each one
// distinct, accepted by the double's API until it expires), and how many
// exchanges it served. Google, SharePoint, Box and TikTok embed it.
type TokenEndpoint struct {
	// TokenExchanges counts the requests to the token endpoint, granted or
	// refused: one per exchange a client attempted. A cache that works
	// makes it stand still; a refresh race makes it jump.
	TokenExchanges atomic.Int64

	prefix    string
	expiresIn int // seconds, as answered in expires_in

	mu       sync.Mutex
	rotation Rotation
	current  string          // the newest refresh token
	valid    map[string]bool // refresh tokens accepted now
	access   map[string]time.Time
	seq      int

	// answerDelay holds every granted refresh after its token was spent
	// (SetAnswerDelay): a client that gives up meanwhile never learns the
	// new one.
	answerDelay atomic.Int64
}

// SetAnswerDelay makes every granted refresh wait d after spending the
// refresh token, before it answers.
func (e *TokenEndpoint) SetAnswerDelay(d time.Duration) { e.answerDelay.Store(int64(d)) }

func (e *TokenEndpoint) initTokens(prefix, refreshToken string, rotation Rotation, expiresIn int) {
	e.prefix, e.expiresIn, e.rotation = prefix, expiresIn, rotation
	e.valid, e.access = map[string]bool{}, map[string]time.Time{}
	if refreshToken != "" {
		e.setRefreshToken(refreshToken)
	}
}

// setRefreshToken makes token the newest refresh token, accepted from now.
func (e *TokenEndpoint) setRefreshToken(token string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.current = token
	e.valid[token] = true
}

// SetRotation changes what refresh grants do from now on.
func (e *TokenEndpoint) SetRotation(r Rotation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rotation = r
}

// RefreshToken is the newest refresh token the double handed out (or was
// started with): the one a client must hold after its last exchange.
func (e *TokenEndpoint) RefreshToken() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.current
}

// AcceptsRefreshToken reports whether a refresh grant with token would be
// granted now.
func (e *TokenEndpoint) AcceptsRefreshToken(token string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.valid[token]
}

// ExpireAccessTokens ends the life of every access token issued so far,
// as time passing would.
func (e *TokenEndpoint) ExpireAccessTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for tok := range e.access {
		e.access[tok] = time.Time{}
	}
}

// AcceptsAccessToken reports whether the double's API takes token: one it
// issued that has not expired.
func (e *TokenEndpoint) AcceptsAccessToken(token string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	exp, ok := e.access[token]
	return ok && time.Now().Before(exp)
}

// acceptsBearer is AcceptsAccessToken of an Authorization header.
func (e *TokenEndpoint) acceptsBearer(authorization string) bool {
	tok, ok := strings.CutPrefix(authorization, "Bearer ")
	return ok && e.AcceptsAccessToken(tok)
}

// redeem spends a refresh token in a refresh grant, atomically: under
// RevokeUsedRefreshToken only one of many concurrent grants with the same
// token wins. It returns the new refresh token to answer ("" when the
// double does not rotate) and whether the grant is accepted.
func (e *TokenEndpoint) redeem(token string) (rotated string, ok bool) {
	defer func() {
		if ok {
			time.Sleep(time.Duration(e.answerDelay.Load()))
		}
	}()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.valid[token] {
		return "", false
	}
	if e.rotation == KeepRefreshToken {
		return "", true
	}
	e.seq++
	rotated = fmt.Sprintf("%s-refresh-%d", e.prefix, e.seq)
	e.valid[rotated] = true
	e.current = rotated
	if e.rotation == RevokeUsedRefreshToken {
		delete(e.valid, token)
	}
	return rotated, true
}

// issueAccessToken makes a new access token and returns it with its
// lifetime in seconds, for the answer's expires_in.
func (e *TokenEndpoint) issueAccessToken() (token string, expiresIn int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	token = fmt.Sprintf("%s-access-%d", e.prefix, e.seq)
	e.access[token] = time.Now().Add(time.Duration(e.expiresIn) * time.Second)
	return token, e.expiresIn
}

// tokenAnswer is the RFC 6749 success answer every token endpoint double
// sends, plus the provider's own extra fields; refresh_token only when
// the grant rotated it.
func (e *TokenEndpoint) tokenAnswer(tokenType, rotated string, extra map[string]any) map[string]any {
	access, expiresIn := e.issueAccessToken()
	ans := map[string]any{"access_token": access, "expires_in": expiresIn, "token_type": tokenType}
	if rotated != "" {
		ans["refresh_token"] = rotated
	}
	for k, v := range extra {
		ans[k] = v
	}
	return ans
}
