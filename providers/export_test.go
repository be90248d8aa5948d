package providers

import "context"

// RawBrowse is p's browse before its errors are made safe to show, for
// tests that prove a browse never produces a secret in the first place
// (as rawCheck does for checks).
func RawBrowse(ctx context.Context, p *Provider, cfg Config, env Env, req BrowseRequest) (BrowsePage, error) {
	return p.browse(ctx, cfg, env, req)
}

// STSEndpoint is stsEndpoint, for its test.
var STSEndpoint = stsEndpoint
