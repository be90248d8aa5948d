package providers

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/connvault/connvault"
)

// Split separates a config into its public part and its secrets, both in
// the config's nested shape. Only string values at a declared secret path
// are secrets.
func Split(p *Provider, cfg Config) (public, secrets Config) {
	public = deepCopy(cfg)
	secrets = Config{}
	for _, path := range p.Secrets {
		moveSecrets(public, secrets, strings.Split(path, "."))
	}
	if len(secrets) == 0 {
		secrets = nil
	}
	return public, secrets
}

// moveSecrets moves the string values at path from src to dst.
func moveSecrets(src, dst Config, path []string) {
	if len(path) == 0 {
		return
	}
	for _, k := range matchKeys(src, path[0]) {
		v, ok := src[k]
		if !ok {
			continue
		}
		if len(path) == 1 {
			if s, isString := v.(string); isString {
				dst[k] = s
				delete(src, k)
			}
			continue
		}
		child, isMap := v.(map[string]any)
		if !isMap {
			continue
		}
		dchild, _ := dst[k].(map[string]any)
		if dchild == nil {
			dchild = map[string]any{}
		}
		moveSecrets(child, dchild, path[1:])
		if len(dchild) > 0 {
			dst[k] = dchild
		}
	}
}

// Seal splits a full config for storage (see connvault.SealedConfig): the
// stored config with the marker at each secret, and the secrets. Its Plain
// gives the full config back.
func Seal(p *Provider, full Config) connvault.SealedConfig {
	public, secrets := Split(p, full)
	return connvault.SealedConfig{Config: Redact(p, public, secrets), Secrets: connvault.SecretsFrom(secrets)}
}

// Merge applies a PATCH of provider_config to the stored full config. Objects
// merge deeply; scalars and arrays replace; null removes a key. A secret sent
// back as the redaction marker (or left out) keeps its stored value. When the
// patch switches credentials.type, the credentials object is replaced whole,
// so a secret of the old variant cannot linger; a marker then has nothing to
// stand for and is refused.
func Merge(p *Provider, stored, patch Config) (Config, error) {
	out := deepCopy(stored)
	patch = deepCopy(patch)
	if pc, ok := patch["credentials"].(map[string]any); ok {
		sc, _ := stored["credentials"].(map[string]any)
		if t, ok := pc["type"]; ok && (sc == nil || sc["type"] != t) {
			out["credentials"] = map[string]any{}
		}
	}
	if err := mergePatch(p, out, patch, nil); err != nil {
		return nil, err
	}
	return out, nil
}

func mergePatch(p *Provider, dst, patch Config, at []string) error {
	for k, v := range patch {
		path := append(append([]string{}, at...), k)
		switch vv := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			dm, ok := dst[k].(map[string]any)
			if !ok {
				dm = map[string]any{}
			}
			if err := mergePatch(p, dm, vv, path); err != nil {
				return err
			}
			dst[k] = dm
		case string:
			if vv == connvault.RedactedMarker && isSecretPath(p, path) {
				if _, stored := dst[k].(string); !stored {
					return connvault.Invalid(path, "field "+strings.Join(path, ".")+" holds the redaction marker but no secret is stored there: send the real value")
				}
				continue // keep the stored secret
			}
			dst[k] = vv
		default:
			dst[k] = vv
		}
	}
	return nil
}

// SecretsSentElsewhere returns the first field of p.SecretsBoundTo whose
// value a PATCH changes (stored → merged) while it keeps a stored secret
// (sends it back as the marker or leaves it out); nil when there is none.
// Such a PATCH would have the stored secrets sent to a destination its
// author never proved they may send them to: they must send them again.
func SecretsSentElsewhere(p *Provider, stored, merged, patch Config) []string {
	var moved []string
	for _, field := range p.SecretsBoundTo {
		path := strings.Split(field, ".")
		if !reflect.DeepEqual(valueAt(stored, path), valueAt(merged, path)) {
			moved = path
			break
		}
	}
	if moved == nil {
		return nil
	}
	_, secrets := Split(p, merged)
	for _, dotted := range SecretPaths(p, secrets) {
		path := strings.Split(dotted, ".")
		sent, _ := valueAt(patch, path).(string)
		if sent == "" || sent == connvault.RedactedMarker {
			return moved
		}
	}
	return nil
}

// SpentSecrets is stored with the secrets a check rotated where the check
// used the stored ones (checked kept them): what must be stored even when
// the change that was checked is refused, as the stored ones were spent (a
// Box refresh token is revoked once used). nil when no stored secret was
// rotated.
func SpentSecrets(p *Provider, stored, checked, rotated Config) Config {
	if rotated == nil {
		return nil
	}
	_, secrets := Split(p, checked)
	var out Config
	for _, dotted := range SecretPaths(p, secrets) {
		path := strings.Split(dotted, ".")
		was, used, now := valueAt(stored, path), valueAt(checked, path), valueAt(rotated, path)
		if was == nil || now == nil || !reflect.DeepEqual(was, used) || reflect.DeepEqual(used, now) {
			continue
		}
		if out == nil {
			out = deepCopy(stored)
		}
		parent := out
		for _, k := range path[:len(path)-1] {
			parent = parent[k].(map[string]any) // there: the stored value is
		}
		parent[path[len(path)-1]] = now
	}
	return out
}

// valueAt is the value at a path of nested objects, nil where there is none.
func valueAt(m Config, path []string) any {
	var v any = m
	for _, k := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[k]
	}
	return v
}

// isSecretPath reports whether a concrete path matches a declared secret.
func isSecretPath(p *Provider, path []string) bool {
	for _, decl := range p.Secrets {
		segs := strings.Split(decl, ".")
		if len(segs) != len(path) {
			continue
		}
		match := true
		for i, s := range segs {
			if s != "*" && s != path[i] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// Redact is the response view of a stored config: public plus the
// redaction marker at every path where a secret is stored. A string left in
// public at a declared secret path is masked too, so Redact(p, full, nil)
// is safe on a plaintext config as well.
func Redact(p *Provider, public, secrets Config) Config {
	out := deepCopy(public)
	markLeaves(out, secrets)
	for _, path := range p.Secrets {
		maskPath(out, strings.Split(path, "."))
	}
	return out
}

// markLeaves puts the marker into dst wherever src holds a string.
func markLeaves(dst, src Config) {
	for k, v := range src {
		switch vv := v.(type) {
		case string:
			dst[k] = connvault.RedactedMarker
		case map[string]any:
			child, ok := dst[k].(map[string]any)
			if !ok {
				child = map[string]any{}
				dst[k] = child
			}
			markLeaves(child, vv)
		}
	}
}

// maskPath replaces the strings at a declared secret path with the marker.
func maskPath(m Config, path []string) {
	for _, k := range matchKeys(m, path[0]) {
		if len(path) == 1 {
			if _, ok := m[k].(string); ok {
				m[k] = connvault.RedactedMarker
			}
			continue
		}
		if child, ok := m[k].(map[string]any); ok {
			maskPath(child, path[1:])
		}
	}
}

// matchKeys lists the keys of m a path segment names ("*": all of them).
func matchKeys(m Config, seg string) []string {
	if seg != "*" {
		return []string{seg}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// SecretPaths lists, sorted, the concrete dotted paths of the secrets that
// are set (e.g. "http_headers.headers.X-Api-Key"), for a summary that
// shows which secrets exist without showing them. A stored value at a path
// the provider no longer declares secret is not listed.
func SecretPaths(p *Provider, secrets Config) []string {
	var out []string
	var walk func(Config, []string)
	walk = func(m Config, at []string) {
		for k, v := range m {
			path := append(append([]string{}, at...), k)
			switch vv := v.(type) {
			case string:
				if isSecretPath(p, path) {
					out = append(out, strings.Join(path, "."))
				}
			case map[string]any:
				walk(vv, path)
			}
		}
	}
	walk(secrets, nil)
	sort.Strings(out)
	return out
}

// SecretValues lists the secret strings of a full config, for Scrub.
func SecretValues(p *Provider, cfg Config) []string {
	_, secrets := Split(p, cfg)
	return StringLeaves(secrets)
}

// StringLeaves lists the strings of a decoded JSON object, at any depth
// of objects (issued credentials, for Scrub).
func StringLeaves(m map[string]any) []string {
	var out []string
	var walk func(map[string]any)
	walk = func(m map[string]any) {
		for _, v := range m {
			switch vv := v.(type) {
			case string:
				out = append(out, vv)
			case map[string]any:
				walk(vv)
			}
		}
	}
	walk(m)
	return out
}

// Scrub replaces every occurrence of a secret value in msg with the
// marker: raw, URL-encoded (either case of hex digits), base64, or
// escaped as a JSON string would carry it. Very short values are skipped:
// replacing them would mangle ordinary text and they are not worth
// protecting.
func Scrub(msg string, values []string) string {
	// Longest first, so a secret containing another is replaced whole; on
	// a copy, as the caller's slice is not ours to reorder.
	values = append([]string(nil), values...)
	sort.Slice(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	for _, v := range values {
		if len(v) < 4 {
			continue
		}
		for _, form := range encodedForms(v) {
			msg = strings.ReplaceAll(msg, form, connvault.RedactedMarker)
		}
	}
	return msg
}

// encodedForms are the spellings of v that text about a request may hold.
func encodedForms(v string) []string {
	forms := []string{v, url.QueryEscape(v), url.PathEscape(v), base64.StdEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v))}
	for _, escaped := range []string{url.QueryEscape(v), url.PathEscape(v)} {
		if lower := lowerHexEscapes(escaped); lower != escaped {
			forms = append(forms, lower)
		}
	}
	if quoted, err := json.Marshal(v); err == nil {
		forms = append(forms, string(quoted[1:len(quoted)-1]))
	}
	// A JSON encoder may also escape "/" (PHP, some Java ones) or any
	// non-ASCII character as \uXXXX.
	if strings.Contains(v, "/") {
		forms = append(forms, strings.ReplaceAll(v, "/", `\/`))
	}
	return forms
}

// lowerHexEscapes writes the hex digits of %XX escapes in lower case.
func lowerHexEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lowerHex(b[i+1]), lowerHex(b[i+2])
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// tokenShapes match credentials by their form rather than their value:
// what a sync worker quotes may hold a token issued from the connection
// (an access token, a JWT, temporary keys) that is no stored secret and
// may no longer be cached. The first group is kept, the rest replaced.
var tokenShapes = []*regexp.Regexp{
	// An Authorization header's credentials, whatever the scheme.
	regexp.MustCompile(`(?i)(\b(?:bearer|basic|token|digest)\s+)[A-Za-z0-9._~+/=-]{8,}`),
	// A credential given as a named value: access_token=..., "password": "...".
	regexp.MustCompile(`(?i)((?:access|refresh|id|session|security)?_?(?:token|secret|password|passphrase|signature|api_?key|private_key)["']?\s*[:=]\s*["']?)[^\s"'&,;}]{4,}`),
	// A JWT (header.payload.signature, base64url).
	regexp.MustCompile(`()\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`),
	// Google OAuth access tokens.
	regexp.MustCompile(`()\bya29\.[A-Za-z0-9._-]{8,}`),
}

// ScrubTokens replaces what looks like a credential in text that quotes a
// provider (see tokenShapes) with the marker, after Scrub has replaced the
// connection's own secrets.
func ScrubTokens(text string) string {
	for _, re := range tokenShapes {
		text = re.ReplaceAllString(text, "${1}"+connvault.RedactedMarker)
	}
	return text
}

// deepCopy copies a decoded JSON object all the way down, so that a result
// never shares a map or slice with an argument (the stored config, say).
func deepCopy(m Config) Config {
	if m == nil {
		return Config{}
	}
	out := make(Config, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch vv := v.(type) {
	case map[string]any:
		return deepCopy(vv)
	case []any:
		cp := make([]any, len(vv))
		for i, e := range vv {
			cp[i] = copyValue(e)
		}
		return cp
	}
	return v
}
