package providers

import (
	"errors"
	"net/url"
	"strings"
)

// parseHTTPURL accepts absolute http and https URLs only: anything else
// (a relative path, file:, ftp:) cannot be fetched by the check.
func parseHTTPURL(field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New(field + " must be an absolute http or https URL")
	}
	return u, nil
}

// pathEscapeSegments escapes each "/"-separated segment of a user-given id
// that may legitimately be a path (a Graph site "host:/sites/name"), and
// refuses dot segments so the id cannot climb out of its collection.
func pathEscapeSegments(id string) (string, bool) {
	parts := strings.Split(id, "/")
	for i, p := range parts {
		if p == "." || p == ".." {
			return "", false
		}
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/"), true
}
