package providertest

import (
	"net/http"
	"strings"
)

// InstagramUserID and InstagramUsername are who the double's token
// belongs to.
const (
	InstagramUserID   = "17841400000000001"
	InstagramUsername = "connvault_test"
)

// Instagram is a double of the Instagram Graph API: GET /me and GET
// /{business-account-id}, with the token in the access_token query
// parameter as Instagram takes it. A wrong token gets Instagram's 400
// OAuthException (code 190) whose message quotes the token back, so tests
// prove the check never repeats a provider's error text.
type Instagram struct {
	Server
	Token string
	// BusinessAccountID is the one business account the token can read.
	BusinessAccountID string
}

// NewInstagram starts the double; it stops when the test ends.
func NewInstagram(t TB, token, businessAccountID string) *Instagram {
	t.Helper()
	d := &Instagram{Token: token, BusinessAccountID: businessAccountID}
	d.start(t, d.serve, map[string]string{"instagram.graph_base": ""})
	return d
}

func (d *Instagram) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusBadRequest, graphError("Unsupported "+strings.ToLower(r.Method)+" request.", "GraphMethodException", 100))
		return
	}
	got := r.URL.Query().Get("access_token")
	if got == "" {
		writeJSON(w, http.StatusBadRequest, graphError("An active access token must be used to query information about the current user.", "OAuthException", 2500))
		return
	}
	if got != d.Token {
		writeJSON(w, http.StatusBadRequest, graphError("Invalid OAuth access token - Cannot parse access token "+got, "OAuthException", 190))
		return
	}
	switch node := strings.TrimPrefix(r.URL.Path, "/"); {
	case node == "me":
		writeJSON(w, http.StatusOK, map[string]any{"id": InstagramUserID, "username": InstagramUsername})
	case node != "" && node == d.BusinessAccountID:
		writeJSON(w, http.StatusOK, map[string]any{"id": d.BusinessAccountID})
	default:
		writeJSON(w, http.StatusBadRequest, graphError("Unsupported get request. Object with ID '"+node+"' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", "GraphMethodException", 100))
	}
}

// graphError is the Graph API's error envelope.
func graphError(message, typ string, code int) map[string]any {
	return map[string]any{"error": map[string]any{"message": message, "type": typ, "code": code, "fbtrace_id": "AbCdEfGhIjK"}}
}
