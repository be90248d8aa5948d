package providers_test

import (
	"net/http/httptest"
	"testing"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

func instagramConfig(token, business, user string) providers.Config {
	creds := map[string]any{"type": "oauth", "client_id": "1234567890", "client_secret": "ig-client-secret", "access_token": token}
	if user != "" {
		creds["instagram_user_id"] = user
	}
	c := providers.Config{"credentials": creds, "scopes": []any{"instagram_basic"}}
	if business != "" {
		c["business_account_id"] = business
	}
	return c
}

func TestInstagramCheck(t *testing.T) {
	t.Parallel()
	const token, wrong = "IGQVJ-instagram+access/token", "IGQVJ-wrong+token/value"
	d := providertest.NewInstagram(t, token, "17841400000000999")
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	runRawCases(t, "instagram", env, []string{token, wrong, "ig-client-secret"}, []rawCase{
		{"reads the profile", instagramConfig(token, "", ""), true, "@" + providertest.InstagramUsername},
		{"reads the business account", instagramConfig(token, "17841400000000999", providertest.InstagramUserID), true, "@connvault_test"},
		// The double answers 400 OAuthException with the token quoted.
		{"wrong token", instagramConfig(wrong, "", ""), false, "the access token is invalid or expired"},
		{"unknown business account", instagramConfig(token, "999", ""), false, "business account 999: the account was not found"},
		{"token of another user", instagramConfig(token, "", "17841400000000777"), false, "another Instagram user"},
		{"empty token", instagramConfig("", "", ""), false, "access_token is empty"},
	})
}

// Two reads with a business account, one without: the check stays cheap.
func TestInstagramCheckRequests(t *testing.T) {
	t.Parallel()
	d := providertest.NewInstagram(t, "tok", "42")
	env := providers.Env{HTTP: d.Client(), Endpoints: d.Endpoints()}
	expectResult(t, rawCheck(t, "instagram", instagramConfig("tok", "", ""), env), true, "works")
	expectResult(t, rawCheck(t, "instagram", instagramConfig("tok", "42", ""), env), true, "works")
	if n := d.Requests.Load(); n != 3 {
		t.Errorf("double got %d requests, want 3", n)
	}
}

// A transport error would print the request URL, access_token included:
// the check must describe it without the URL.
func TestInstagramUnreachableDoesNotLeakToken(t *testing.T) {
	t.Parallel()
	const token = "IGQVJ-unreachable-token"
	closed := httptest.NewServer(nil)
	closed.Close()
	env := providers.Env{HTTP: closed.Client(), Endpoints: map[string]string{"instagram.graph_base": closed.URL}}
	expectResult(t, rawCheck(t, "instagram", instagramConfig(token, "", ""), env), false, "could not connect", token)
}
