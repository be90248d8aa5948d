package providers_test

import (
	"testing"

	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
)

func TestSharePointCheck(t *testing.T) {
	t.Parallel()
	const (
		secret  = "sp~client~secret"
		refresh = "0.AX-sp-refresh-token"
	)
	d := providertest.NewSharePoint(t, "tenant-1", "app-1", secret, refresh)
	cc := func(edit map[string]any) providers.Config {
		creds := map[string]any{"type": "client_credentials", "tenant_id": "tenant-1", "client_id": "app-1", "client_secret": secret}
		cfg := providers.Config{"credentials": creds}
		for k, v := range edit {
			if k == "site_id" || k == "drive_id" {
				cfg[k] = v
			} else {
				creds[k] = v
			}
		}
		return cfg
	}
	delegated := func(clientSecret, refreshToken string) providers.Config {
		return providers.Config{"drive_id": "b!drive", "credentials": map[string]any{"type": "delegated", "tenant_id": "tenant-1",
			"client_id": "app-1", "client_secret": clientSecret, "refresh_token": refreshToken}}
	}
	runDirect(t, "sharepoint", d, &d.Requests, []string{secret, refresh, "wrong-sp-secret", "bad-refresh"}, []directCase{
		{name: "client credentials, root site", cfg: cc(nil), ok: true, want: "read the root site", step: "read site", calls: 2},
		{name: "client credentials, site id", cfg: cc(map[string]any{"site_id": "contoso.sharepoint.com,2C71,2D22"}), ok: true, want: "read the site", step: "read site", calls: 2},
		{name: "client credentials, site path", cfg: cc(map[string]any{"site_id": "contoso.sharepoint.com:/sites/marketing"}), ok: true, want: "read the site", step: "read site", calls: 2},
		{name: "wrong client secret", cfg: cc(map[string]any{"client_secret": "wrong-sp-secret"}), ok: false,
			want: "authentication refused by the provider (HTTP 401 Unauthorized (invalid_client))", step: "authenticate", calls: 1},
		{name: "unknown client id", cfg: cc(map[string]any{"client_id": "app-2"}), ok: false,
			want: "authentication refused by the provider (HTTP 400 Bad Request (unauthorized_client))", step: "authenticate", calls: 1},
		{name: "unknown tenant", cfg: cc(map[string]any{"tenant_id": "tenant-x"}), ok: false,
			want: "the provider rejected the request (HTTP 400 Bad Request (invalid_request))", step: "authenticate", calls: 1},
		{name: "tenant id that is a path", cfg: cc(map[string]any{"tenant_id": "../common"}), ok: false, want: "tenant_id", step: "read credentials", calls: 0},
		{name: "site not found", cfg: cc(map[string]any{"site_id": "missing-site"}), ok: false, want: "the site was not found", step: "read site", calls: 2},
		{name: "site the app may not read", cfg: cc(map[string]any{"site_id": "denied-site"}), ok: false, want: "access to the site was denied", step: "read site", calls: 2},
		{name: "site id climbing out of /sites", cfg: cc(map[string]any{"site_id": "../drives/x"}), ok: false, want: "site_id", step: "read site", calls: 1},
		{name: "delegated, drive", cfg: delegated(secret, refresh), ok: true, want: "read the drive", step: "read drive", calls: 2},
		{name: "delegated, bad refresh token", cfg: delegated(secret, "bad-refresh"), ok: false,
			want: "authentication refused by the provider (HTTP 400 Bad Request (invalid_grant))", step: "authenticate", calls: 1},
		{name: "delegated, wrong client secret", cfg: delegated("wrong-sp-secret", refresh), ok: false, want: "invalid_client", step: "authenticate", calls: 1},
		{name: "drive not found", cfg: cc(map[string]any{"drive_id": "b!missing"}), ok: false, want: "the drive was not found", step: "read drive", calls: 2},
	})
	expiredCheck(t, "sharepoint", d, &d.Requests, cc(nil))
}
