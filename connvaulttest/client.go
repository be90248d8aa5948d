package connvaulttest

import (
	"context"
	"net/http"
)

func bearer(apiKey string) func(context.Context, *http.Request) error {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+apiKey)
		return nil
	}
}
