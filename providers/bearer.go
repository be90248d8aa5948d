package providers

import (
	"context"
	"net/http"
)

// getJSON sends an authenticated GET and decodes the JSON answer into out.
// Used by the providers whose check is one read with a bearer token.
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

// errInvalidEndpoint is returned when a configured endpoint is not a URL.
var errInvalidEndpoint = invalidEndpointError{}

type invalidEndpointError struct{}

func (invalidEndpointError) Error() string { return "the provider endpoint is not a valid URL" }
