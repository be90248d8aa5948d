package providers_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/providers"
)

const marker = connvault.RedactedMarker

// cfgOf decodes JSON into a Config, as the server sees a request body:
// numbers are float64, objects map[string]any.
func cfgOf(t *testing.T, s string) providers.Config {
	t.Helper()
	var c providers.Config
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return c
}

// testProvider declares the secret shapes that occur in the registry: a
// tagged-union credentials object and a map whose every value is secret.
var testProvider = &providers.Provider{Type: "test", Secrets: []string{
	"credentials.secret_access_key", "credentials.session_token", "credentials.password",
	"http_headers.headers.*",
}}

func TestSplitJoin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, cfg, public, secrets string
		paths                      []string
	}{
		{
			name:    "access key",
			cfg:     `{"bucket":"b","credentials":{"type":"access_key","access_key_id":"AKIA1","secret_access_key":"s3cr3t-value"}}`,
			public:  `{"bucket":"b","credentials":{"type":"access_key","access_key_id":"AKIA1"}}`,
			secrets: `{"credentials":{"secret_access_key":"s3cr3t-value"}}`,
			paths:   []string{"credentials.secret_access_key"},
		},
		{
			name:    "two secrets, one empty: empty counts as set",
			cfg:     `{"credentials":{"type":"access_key","secret_access_key":"x-secret","session_token":""}}`,
			public:  `{"credentials":{"type":"access_key"}}`,
			secrets: `{"credentials":{"secret_access_key":"x-secret","session_token":""}}`,
			paths:   []string{"credentials.secret_access_key", "credentials.session_token"},
		},
		{
			name:    "map-valued secrets",
			cfg:     `{"feed_url":"https://f","http_headers":{"headers":{"X-Api-Key":"k-123456","Authorization":"Bearer abcdef"}}}`,
			public:  `{"feed_url":"https://f","http_headers":{"headers":{}}}`,
			secrets: `{"http_headers":{"headers":{"X-Api-Key":"k-123456","Authorization":"Bearer abcdef"}}}`,
			paths:   []string{"http_headers.headers.Authorization", "http_headers.headers.X-Api-Key"},
		},
		{
			name:    "a non-string at a secret path stays public",
			cfg:     `{"credentials":{"secret_access_key":42,"session_token":{"nested":"x"}}}`,
			public:  `{"credentials":{"secret_access_key":42,"session_token":{"nested":"x"}}}`,
			secrets: `null`,
		},
		{
			name:    "no credentials at all",
			cfg:     `{"bucket":"b","tags":["a","b"],"nested":{"deep":{"x":1}}}`,
			public:  `{"bucket":"b","tags":["a","b"],"nested":{"deep":{"x":1}}}`,
			secrets: `null`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cfgOf(t, tc.cfg)
			public, secrets := providers.Split(testProvider, cfg)
			if want := cfgOf(t, tc.public); !reflect.DeepEqual(public, want) {
				t.Errorf("public = %v, want %v", public, want)
			}
			if want := cfgOf(t, tc.secrets); !reflect.DeepEqual(secrets, want) {
				t.Errorf("secrets = %v, want %v", secrets, want)
			}
			if got := providers.SecretPaths(testProvider, secrets); !reflect.DeepEqual(got, tc.paths) {
				t.Errorf("SecretPaths = %v, want %v", got, tc.paths)
			}
			sealed := providers.Seal(testProvider, cfg)
			if plain := sealed.Plain(); !reflect.DeepEqual(plain, map[string]any(cfgOf(t, tc.cfg))) {
				t.Errorf("Seal(...).Plain() = %v, want the original", plain)
			}
			if path := sealed.UnmarkedSecret(); path != "" {
				t.Errorf("Seal left the secret at %s unmarked", path)
			}
			if !reflect.DeepEqual(cfg, cfgOf(t, tc.cfg)) {
				t.Errorf("Split changed its argument: %v", cfg)
			}
		})
	}
}

func TestSplitCopiesDeeply(t *testing.T) {
	t.Parallel()
	cfg := cfgOf(t, `{"list":[{"a":"b"}],"credentials":{"password":"pw-123456"}}`)
	public, _ := providers.Split(testProvider, cfg)
	public["list"].([]any)[0].(map[string]any)["a"] = "changed"
	if cfg["list"].([]any)[0].(map[string]any)["a"] != "b" {
		t.Error("public shares an array element with the input")
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	cfg := cfgOf(t, `{"bucket":"b","credentials":{"type":"access_key","access_key_id":"AKIA1","secret_access_key":"sk-abcdef"},
		"http_headers":{"headers":{"X-Api-Key":"hdr-secret","X-Empty":""}}}`)
	public, secrets := providers.Split(testProvider, cfg)
	want := cfgOf(t, `{"bucket":"b","credentials":{"type":"access_key","access_key_id":"AKIA1","secret_access_key":"`+marker+`"},
		"http_headers":{"headers":{"X-Api-Key":"`+marker+`","X-Empty":"`+marker+`"}}}`)
	if got := providers.Redact(testProvider, public, secrets); !reflect.DeepEqual(got, want) {
		t.Errorf("Redact = %v\nwant %v", got, want)
	}
	// A plaintext config handed over whole is masked by its declarations.
	if got := providers.Redact(testProvider, cfg, nil); !reflect.DeepEqual(got, want) {
		t.Errorf("Redact(full, nil) = %v\nwant %v", got, want)
	}
	b, _ := json.Marshal(providers.Redact(testProvider, public, secrets))
	for _, s := range []string{"sk-abcdef", "hdr-secret"} {
		if strings.Contains(string(b), s) {
			t.Errorf("redacted view holds %q: %s", s, b)
		}
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	stored := `{"bucket":"old","region":"eu-west-1","prefix":"p/","tags":["a"],
		"credentials":{"type":"access_key","access_key_id":"AKIA1","secret_access_key":"stored-secret","session_token":"stored-token"},
		"http_headers":{"headers":{"X-Api-Key":"stored-header","X-Other":"other-header"}}}`
	for _, tc := range []struct {
		name, patch, want string
		errPath           string // non-empty: Merge must refuse, naming this path
	}{
		{
			name:  "scalar changes, secrets absent are kept",
			patch: `{"bucket":"new"}`,
			want: `{"bucket":"new","region":"eu-west-1","prefix":"p/","tags":["a"],
				"credentials":{"type":"access_key","access_key_id":"AKIA1","secret_access_key":"stored-secret","session_token":"stored-token"},
				"http_headers":{"headers":{"X-Api-Key":"stored-header","X-Other":"other-header"}}}`,
		},
		{
			name:  "null removes a key, arrays are replaced",
			patch: `{"prefix":null,"tags":["b","c"]}`,
			want: `{"bucket":"old","region":"eu-west-1","tags":["b","c"],
				"credentials":{"type":"access_key","access_key_id":"AKIA1","secret_access_key":"stored-secret","session_token":"stored-token"},
				"http_headers":{"headers":{"X-Api-Key":"stored-header","X-Other":"other-header"}}}`,
		},
		{
			name: "markers keep secrets, a new value replaces one, null clears one",
			patch: `{"credentials":{"type":"access_key","access_key_id":"AKIA2","secret_access_key":"` + marker + `","session_token":null},
				"http_headers":{"headers":{"X-Api-Key":"` + marker + `","X-Other":"new-header","X-New":"added-header"}}}`,
			want: `{"bucket":"old","region":"eu-west-1","prefix":"p/","tags":["a"],
				"credentials":{"type":"access_key","access_key_id":"AKIA2","secret_access_key":"stored-secret"},
				"http_headers":{"headers":{"X-Api-Key":"stored-header","X-Other":"new-header","X-New":"added-header"}}}`,
		},
		{
			name:  "a new credentials type replaces the object whole",
			patch: `{"credentials":{"type":"iam_role","role_arn":"arn:aws:iam::1:role/r"}}`,
			want: `{"bucket":"old","region":"eu-west-1","prefix":"p/","tags":["a"],
				"credentials":{"type":"iam_role","role_arn":"arn:aws:iam::1:role/r"},
				"http_headers":{"headers":{"X-Api-Key":"stored-header","X-Other":"other-header"}}}`,
		},
		{
			name:    "a marker under a new credentials type stands for nothing",
			patch:   `{"credentials":{"type":"other","secret_access_key":"` + marker + `"}}`,
			errPath: "credentials.secret_access_key",
		},
		{
			name:    "a marker for a header never stored",
			patch:   `{"http_headers":{"headers":{"X-Unknown":"` + marker + `"}}}`,
			errPath: "http_headers.headers.X-Unknown",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storedCfg := cfgOf(t, stored)
			got, err := providers.Merge(testProvider, storedCfg, cfgOf(t, tc.patch))
			if !reflect.DeepEqual(storedCfg, cfgOf(t, stored)) {
				t.Errorf("Merge changed the stored config: %v", storedCfg)
			}
			if tc.errPath != "" {
				var ce *connvault.Error
				if !errors.As(err, &ce) || ce.Code != connvault.EINVALID || !strings.Contains(ce.Message, tc.errPath) {
					t.Fatalf("err = %v, want EINVALID naming %s", err, tc.errPath)
				}
				if len(ce.Fields) != 1 || strings.Join(ce.Fields[0].Location, ".") != tc.errPath {
					t.Errorf("Fields = %v", ce.Fields)
				}
				if strings.Contains(ce.Message, "stored-") {
					t.Errorf("the error quotes a value: %s", ce.Message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := cfgOf(t, tc.want); !reflect.DeepEqual(got, want) {
				t.Errorf("Merge =\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// A client that GETs a connection, edits a field and PATCHes the whole
// redacted object back must end up with its secrets unchanged.
func TestRedactMergeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"s3", "tigris", "backblaze", "postgresql"} {
		p, ok := providers.Lookup(name)
		if !ok {
			t.Fatalf("%s is not registered", name)
		}
		full := cfgOf(t, `{"bucket":"b","host":"db.example.com","credentials":{"type":"t","access_key_id":"AKIA",
			"secret_access_key":"sak-value","session_token":"tok-value","key_id":"kid","application_key":"appkey-value",
			"username":"u","password":"pw-value"}}`)
		public, secrets := providers.Split(p, full)
		if len(secrets) == 0 {
			t.Errorf("%s: no secrets split off", name)
		}
		view := providers.Redact(p, public, secrets)
		got, err := providers.Merge(p, full, view)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, full) {
			t.Errorf("%s: round trip gave %v", name, got)
		}
	}
	// http_headers-style map secrets too.
	full := cfgOf(t, `{"http_headers":{"headers":{"A":"aaaa-secret","B":"bbbb-secret"}}}`)
	public, secrets := providers.Split(testProvider, full)
	got, err := providers.Merge(testProvider, full, providers.Redact(testProvider, public, secrets))
	if err != nil || !reflect.DeepEqual(got, full) {
		t.Errorf("header round trip: %v %v", got, err)
	}
}

func TestSecretValuesAndScrub(t *testing.T) {
	t.Parallel()
	cfg := cfgOf(t, `{"credentials":{"secret_access_key":"wJalr/XUtn+FEMI=K7MDENG","session_token":"abc"},
		"http_headers":{"headers":{"X-Api-Key":"hdr-key-9876"}},"bucket":"not-secret"}`)
	values := providers.SecretValues(testProvider, cfg)
	if len(values) != 3 {
		t.Fatalf("SecretValues = %d values, want 3", len(values))
	}
	orig := append([]string(nil), values...)
	secret := "wJalr/XUtn+FEMI=K7MDENG"
	for _, tc := range []struct{ name, in, want string }{
		{"raw", "denied for " + secret + "!", "denied for " + marker + "!"},
		{"query-escaped", "GET /?k=" + url.QueryEscape(secret), "GET /?k=" + marker},
		{"path-escaped", "/x/" + url.PathEscape(secret), "/x/" + marker},
		{"base64", "Basic " + base64.StdEncoding.EncodeToString([]byte(secret)), "Basic " + marker},
		{"query-escaped in lower case", "GET /?k=wJalr%2fXUtn%2bFEMI%3dK7MDENG", "GET /?k=" + marker},
		{"JSON-escaped slash", `{"secret":"wJalr\/XUtn+FEMI=K7MDENG"}`, `{"secret":"` + marker + `"}`},
		{"map value", "header hdr-key-9876 refused", "header " + marker + " refused"},
		{"short values are left alone", "abc is a word in abcdef", "abc is a word in abcdef"},
		{"other text untouched", "bucket not-secret", "bucket not-secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := providers.Scrub(tc.in, values); got != tc.want {
				t.Errorf("Scrub = %q, want %q", got, tc.want)
			}
		})
	}
	if !reflect.DeepEqual(values, orig) {
		t.Error("Scrub reordered the caller's slice")
	}
	// A secret containing another is replaced whole, not piecewise.
	if got := providers.Scrub("x longsecret-inner-part y", []string{"inner", "longsecret-inner-part"}); got != "x "+marker+" y" {
		t.Errorf("nested secrets: %q", got)
	}
}

// What a sync worker quotes may hold a credential that is no stored
// secret (a token issued from the connection): its shape gives it away.
func TestScrubTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"401 for Authorization: Bearer ya29.a0AfH6SMBxLongAccessToken", "401 for Authorization: Bearer " + marker},
		{"basic dXNlcjpodW50ZXIy refused", "basic " + marker + " refused"},
		{"POST /token?access_token=abcd1234efgh&x=1 failed", "POST /token?access_token=" + marker + "&x=1 failed"},
		{`body {"refresh_token": "1//0gLongRefresh", "error": "invalid_grant"}`, `body {"refresh_token": "` + marker + `", "error": "invalid_grant"}`},
		{"jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl expired", "jwt " + marker + " expired"},
		{"ya29.a0AfH6SMBx-token-alone in the log", marker + " in the log"},
		{"connection refused by 10.0.0.1:5432 after 3 tries", "connection refused by 10.0.0.1:5432 after 3 tries"},
	} {
		if got := providers.ScrubTokens(tc.in); got != tc.want {
			t.Errorf("ScrubTokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
