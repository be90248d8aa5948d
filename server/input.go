package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
	"github.com/labstack/echo/v4"
)

// storableInput refuses, before the validator and any handler run, what
// JSON and URLs can carry but Postgres cannot store or compare: NUL
// characters and invalid UTF-8 in identifiers, query values, body strings
// and keys, and numbers beyond float64. It also refuses what the validator
// lets through silently: a query parameter given twice and data after the
// JSON body. So a refused request never reaches a provider check or the
// database, and never surfaces as a 500.
func storableInput(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if !storable(req.URL.Path) {
			// No connection can have such an id or name.
			return connvault.Errorf(connvault.ENOTFOUND, "connection not found")
		}
		if req.URL.RawQuery == "" {
			return checkBody(c, next)
		}
		for name, values := range req.URL.Query() {
			loc := []string{"query", sanitizeText(name)}
			switch {
			case !storable(name):
				return invalidInput([]string{"query"}, "query parameter names must be UTF-8 text without NUL characters")
			case len(values) > 1:
				return invalidInput(loc, "query parameter "+strconv.Quote(name)+" is given more than once")
			case !storable(values[0]):
				return invalidInput(loc, "value must be UTF-8 text without NUL characters")
			}
		}
		return checkBody(c, next)
	}
}

// checkBody refuses a JSON body Postgres could not store, then serves.
func checkBody(c echo.Context, next echo.HandlerFunc) error {
	req := c.Request()
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
		return next(c)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he // the body limit (413)
		}
		return &apiError{Status: http.StatusBadRequest, Type: gen.ErrorBodyTypeBadRequestError, Message: "request body could not be read"}
	}
	_ = req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(body))
	if isJSON(req.Header.Get(echo.HeaderContentType)) {
		if err := checkJSONBody(body); err != nil {
			return err
		}
	}
	return next(c)
}

// isJSON reports whether a Content-Type names JSON as the validator reads
// it: media types are case-insensitive ("Application/JSON" is validated
// and served as JSON too, so it is checked as JSON here).
func isJSON(contentType string) bool {
	if strings.HasPrefix(contentType, echo.MIMEApplicationJSON) {
		return true // as clients send it, without parsing (which allocates)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
		return strings.HasPrefix(mt, echo.MIMEApplicationJSON)
	}
	return mt == echo.MIMEApplicationJSON || strings.HasSuffix(mt, "+json")
}

// storable reports whether Postgres can store s as text.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// sanitizeText makes a request's text safe to quote in an answer or a log.
func sanitizeText(s string) string { return connvault.CleanText(s) }

func invalidInput(loc []string, msg string) *apiError {
	return &apiError{Status: http.StatusUnprocessableEntity, Type: gen.ErrorBodyTypeValidationError,
		Message: strings.Join(loc, ".") + ": " + msg,
		Items:   []gen.ValidationErrorItem{{Type: "invalid", Location: loc, Message: msg}}}
}

// checkJSONBody walks a JSON body once. Syntax errors are left to the
// validator, which answers them (400) in its own words.
func checkJSONBody(body []byte) error {
	if !utf8.Valid(body) {
		return invalidInput([]string{"body"}, "request body must be UTF-8 encoded JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err == nil {
		err = walkValue(dec, tok, []string{"body"}, 0)
	}
	if err != nil {
		var refused *apiError
		if errors.As(err, &refused) {
			return refused
		}
		return nil // malformed JSON, however it breaks: the validator answers 400
	}
	if _, err := dec.Token(); err != io.EOF {
		return &apiError{Status: http.StatusBadRequest, Type: gen.ErrorBodyTypeBadRequestError,
			Message: "request body is not valid JSON: data follows the JSON value"}
	}
	return nil
}

// errSyntax stops the walk at malformed JSON, for the validator to report.
var errSyntax = errors.New("malformed JSON")

// maxJSONDepth bounds how deeply a body may nest arrays and objects. The
// deepest the spec describes is a few levels (metadata is free-form, but
// a tag map). The walk keeps each level's location, so its memory grows
// with the square of the depth: up to the decoder's own limit of 10,000
// levels, a body of "[" held ~800 MB for one request, and was then
// answered as invalid JSON.
const maxJSONDepth = 64

func walkValue(dec *json.Decoder, tok json.Token, at []string, depth int) error {
	switch v := tok.(type) {
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			return invalidInput(at, "text must not contain NUL (\\u0000) characters")
		}
	case json.Number:
		if f, err := strconv.ParseFloat(string(v), 64); err != nil || f != f {
			return invalidInput(at, "number is out of range")
		}
	case json.Delim:
		if depth >= maxJSONDepth {
			return &apiError{Status: http.StatusBadRequest, Type: gen.ErrorBodyTypeBadRequestError,
				Message: "request body nests arrays and objects more than " + strconv.Itoa(maxJSONDepth) + " levels deep"}
		}
		switch v {
		case '{':
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return errSyntax
				}
				key, _ := kt.(string)
				here := append(at[:len(at):len(at)], sanitizeText(key))
				if strings.IndexByte(key, 0) >= 0 {
					return invalidInput(here, "keys must not contain NUL (\\u0000) characters")
				}
				vt, err := dec.Token()
				if err != nil {
					return errSyntax
				}
				if err := walkValue(dec, vt, here, depth+1); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil { // '}'
				return errSyntax
			}
		case '[':
			for i := 0; dec.More(); i++ {
				vt, err := dec.Token()
				if err != nil {
					return errSyntax
				}
				if err := walkValue(dec, vt, append(at[:len(at):len(at)], strconv.Itoa(i)), depth+1); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil { // ']'
				return errSyntax
			}
		}
	}
	return nil
}
