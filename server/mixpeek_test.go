package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/connvault/connvault/connvaulttest"
)

// The fields Mixpeek's SDK models send beyond connvault's own (written from
// MIXPEEK-COMPAT.md's table, with the SDK's defaults filled in as it sends
// them): each create is accepted and the non-secret ones come back stored.
func TestMixpeekSDKFieldsAccepted(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	cases := []struct {
		provider string
		config   map[string]any
		stored   []string // non-secret fields that must come back
	}{
		{"s3", map[string]any{"provider_type": "s3", "bucket": "b-mixpeek", "region": "us-east-1", "endpoint_url": "https://s3.example.invalid",
			"use_ssl": true, "verify_ssl": true, "description": nil,
			"credentials": map[string]any{"type": "access_key", "access_key_id": "AKIAMIXPEEK00001", "secret_access_key": "mx-s3-secret", "session_token": nil}},
			[]string{"use_ssl"}},
		{"postgresql", map[string]any{"provider_type": "postgresql", "host": "db.example.invalid", "port": 5432, "database": "app", "schema": "public",
			"ssl_mode": "prefer", "incremental_column": "updated_at", "primary_key_columns": []string{"id"}, "query_timeout_seconds": 300, "fetch_size": 1000,
			"credentials": map[string]any{"type": "username_password", "username": "reader", "password": "mx-pg-password"}},
			[]string{"incremental_column", "primary_key_columns", "query_timeout_seconds", "fetch_size"}},
		{"snowflake", map[string]any{"provider_type": "snowflake", "account": "xy12345.us-east-1", "warehouse": "WH", "database": "DB", "schema": "PUBLIC",
			"role": nil, "incremental_column": "UPDATED_AT", "primary_key_columns": []string{"ID", "REGION"}, "query_timeout_seconds": 300, "fetch_size": 1000,
			"credentials": map[string]any{"type": "username_password", "username": "LOADER", "password": "mx-sf-password"}},
			[]string{"incremental_column", "primary_key_columns"}},
		{"instagram", map[string]any{"provider_type": "instagram", "scopes": []string{"instagram_basic"}, "business_account_id": nil,
			"credentials": map[string]any{"type": "oauth", "client_id": "123", "client_secret": "mx-ig-secret", "access_token": "mx-ig-token",
				"token_expires_at": "2027-01-01T00:00:00Z", "instagram_user_id": "17841400000000001", "instagram_username": "brand"}},
			[]string{"token_expires_at", "instagram_username"}},
		{"tiktok", map[string]any{"provider_type": "tiktok", "scopes": []string{"user.info.basic"},
			"credentials": map[string]any{"type": "oauth", "client_key": "awkey", "client_secret": "mx-tt-secret", "access_token": "mx-tt-token",
				"refresh_token": "mx-tt-refresh", "token_expires_at": "2027-01-01T00:00:00Z", "open_id": "open-1"}},
			[]string{"token_expires_at"}},
		{"http_api", map[string]any{"provider_type": "http_api", "base_url": "https://api.example.invalid/items", "http_method": "GET", "items_path": "",
			"item_id_field": "id", "item_modified_field": "updated_at", "response_content_type": "jsonl", "user_agent": "mixpeek/1", "request_timeout": 30,
			"request_body": nil, "credentials": map[string]any{"type": "http_headers", "headers": map[string]any{"Authorization": "Bearer mx-api-token"}}},
			[]string{"item_modified_field", "response_content_type", "user_agent"}},
	}
	for _, tc := range cases {
		t.Run(tc.provider, func(t *testing.T) {
			c := create(t, h, map[string]any{"name": "mixpeek " + tc.provider, "provider_type": tc.provider,
				"provider_config": tc.config, "test_before_save": false, "description": nil, "metadata": nil})
			var stored map[string]any
			if err := json.Unmarshal(c.ProviderConfig, &stored); err != nil {
				t.Fatal(err)
			}
			creds, _ := stored["credentials"].(map[string]any)
			for _, f := range tc.stored {
				if stored[f] == nil && creds[f] == nil {
					t.Errorf("%s not stored: %s", f, c.ProviderConfig)
				}
			}
			if strings.Contains(string(c.ProviderConfig), "mx-") { // every secret above starts so
				t.Errorf("a secret in the answer: %s", c.ProviderConfig)
			}
			if _, restated := stored["provider_type"]; restated {
				t.Errorf("provider_type stored inside the config: %s", c.ProviderConfig)
			}
		})
	}
}

// Credentials `type` may be left out (as Mixpeek's clients and the seed's
// S3 example do): the kind whose fields the credentials carry is stored.
func TestCredentialsTypeFilledIn(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	for label, c := range map[string]struct {
		config map[string]any
		want   string
	}{
		"s3 iam_role": {map[string]any{"bucket": "my-bucket", "region": "us-east-1",
			"credentials": map[string]any{"role_arn": "arn:aws:iam::123456789012:role/connvault-read", "external_id": "ext-123456"}}, "iam_role"},
		"google_drive": {map[string]any{"credentials": map[string]any{"client_email": "sync@proj.iam.gserviceaccount.com",
			"private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n", "project_id": "proj", "private_key_id": "k1", "client_id": "1"}}, "service_account"},
		"google_drive oauth":   {map[string]any{"credentials": map[string]any{"client_id": "1.apps.googleusercontent.com", "client_secret": "mx-gd-secret", "refresh_token": "mx-gd-refresh"}}, "oauth"},
		"snowflake key_pair":   {map[string]any{"account": "xy12345", "credentials": map[string]any{"username": "LOADER", "private_key": "mx-sf-key"}}, "key_pair"},
		"snowflake":            {map[string]any{"account": "xy12345", "credentials": map[string]any{"username": "LOADER", "password": "mx-sf-password"}}, "username_password"},
		"sharepoint":           {map[string]any{"credentials": map[string]any{"tenant_id": "t", "client_id": "c", "client_secret": "mx-sp-secret"}}, "client_credentials"},
		"sharepoint delegated": {map[string]any{"credentials": map[string]any{"tenant_id": "t", "client_id": "c", "client_secret": "mx-sp-secret", "refresh_token": "mx-sp-refresh"}}, "delegated"},
		"box":                  {map[string]any{"credentials": map[string]any{"client_id": "c", "client_secret": "mx-box-secret", "refresh_token": "mx-box-refresh", "access_token": "mx-box-access"}}, "oauth"},
		"box ccg":              {map[string]any{"credentials": map[string]any{"client_id": "c", "client_secret": "mx-box-secret", "enterprise_id": "9001"}}, "ccg"},
		"box jwt": {map[string]any{"credentials": map[string]any{"client_id": "c", "client_secret": "mx-box-secret", "enterprise_id": "9001",
			"jwt_key_id": "k", "private_key": "mx-box-key", "private_key_passphrase": "mx-box-pass"}}, "jwt"},
		"s3": {map[string]any{"bucket": "my-bucket", "endpoint_url": "https://s3.example.invalid",
			"credentials": map[string]any{"access_key_id": "AKIAEXAMPLE", "secret_access_key": "mx-s3-secret"}}, "access_key"},
		"postgresql": {map[string]any{"host": "db.example.invalid", "database": "app",
			"credentials": map[string]any{"username": "reader", "password": "mx-pg-password"}}, "username_password"},
		"tigris": {map[string]any{"bucket": "b", "endpoint_url": "https://t3.example.invalid",
			"credentials": map[string]any{"access_key_id": "tid_example", "secret_access_key": "mx-tigris-secret"}}, "access_key"},
		"backblaze": {map[string]any{"bucket": "b", "endpoint_url": "https://s3.us-west-004.example.invalid",
			"credentials": map[string]any{"key_id": "0041234567890ab0000000001", "application_key": "mx-b2-key"}}, "application_key"},
		"instagram":  {map[string]any{"credentials": map[string]any{"client_id": "1", "client_secret": "mx-ig-secret", "access_token": "mx-ig-token"}}, "oauth"},
		"tiktok":     {map[string]any{"credentials": map[string]any{"client_key": "k", "client_secret": "mx-tt-secret", "access_token": "mx-tt-token"}}, "oauth"},
		"brightdata": {map[string]any{"credentials": map[string]any{"api_token": "mx-bd-token"}}, "api_token"},
		"rss": {map[string]any{"feed_url": "https://feed.example.invalid/rss",
			"credentials": map[string]any{"headers": map[string]any{"Authorization": "Bearer mx-rss"}}}, "http_headers"},
		"http_api": {map[string]any{"base_url": "https://api.example.invalid/items", "item_id_field": "id",
			"credentials": map[string]any{"headers": map[string]any{"Authorization": "Bearer mx-api"}}}, "http_headers"},
	} {
		provider, _, _ := strings.Cut(label, " ")
		got := create(t, h, map[string]any{"name": "no type " + label, "provider_type": provider, "provider_config": c.config, "test_before_save": false})
		var stored struct {
			Credentials struct {
				Type string `json:"type"`
			} `json:"credentials"`
		}
		if err := json.Unmarshal(got.ProviderConfig, &stored); err != nil || stored.Credentials.Type != c.want {
			t.Errorf("%s: stored credentials type %q, want %q (%v)", label, stored.Credentials.Type, c.want, err)
		}
	}
}
