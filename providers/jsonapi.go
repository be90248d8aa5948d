package providers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// errNotJSON is what a 2xx answer that is not the JSON asked for says.
var errNotJSON = errors.New("the provider's answer is not the expected JSON")

// getJSON sends a GET with the given Authorization (none when empty) and
// decodes the JSON answer into out: the read of the providers whose check
// is one call with a bearer token.
func getJSON(ctx context.Context, env Env, url, authorization string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return errInvalidEndpoint
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return doJSON(env, req, out)
}

// postForm builds a POST of an application/x-www-form-urlencoded body.
func postForm(ctx context.Context, endpoint string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, errInvalidEndpoint
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// doJSON sends req and, on a 2xx answer, decodes the JSON body into out
// (when out is non-nil). A non-2xx answer is *httpStatusError carrying the
// OAuth-style "error" code if the body has one.
func doJSON(env Env, req *http.Request, out any) error {
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	ans, err := env.send(req, jsonCode("error"))
	if err != nil {
		return err
	}
	if out != nil && json.Unmarshal(ans.Body, out) != nil {
		return errNotJSON
	}
	return nil
}
