package server

import (
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
)

// apiError is an answer in the error envelope, ready to write.
type apiError struct {
	Status  int
	Type    gen.ErrorBodyType
	Message string
	Items   []gen.ValidationErrorItem
	// retryAfter, in seconds, becomes a Retry-After header (429).
	retryAfter int
}

func (e *apiError) Error() string { return string(e.Type) + ": " + e.Message }

func (e *apiError) envelope(requestID string) gen.ErrorResponse {
	body := gen.ErrorResponse{Success: false, Status: e.Status, Error: gen.ErrorBody{Type: e.Type, Message: e.Message}}
	if requestID != "" {
		body.RequestId = &requestID
	}
	if len(e.Items) > 0 {
		items := e.Items
		body.Error.Details = &gen.ErrorDetails{ValidationErrors: &items}
	}
	return body
}

// errorTypes maps HTTP statuses to the reference's error types.
var errorTypes = map[int]gen.ErrorBodyType{
	http.StatusBadRequest:                  gen.ErrorBodyTypeBadRequestError,
	http.StatusUnauthorized:                gen.ErrorBodyTypeUnauthorizedError,
	http.StatusForbidden:                   gen.ErrorBodyTypeForbiddenError,
	http.StatusNotFound:                    gen.ErrorBodyTypeNotFoundError,
	http.StatusMethodNotAllowed:            gen.ErrorBodyTypeMethodNotAllowedError,
	http.StatusConflict:                    gen.ErrorBodyTypeConflictError,
	http.StatusRequestEntityTooLarge:       gen.ErrorBodyTypeBadRequestError,
	http.StatusUnsupportedMediaType:        gen.ErrorBodyTypeUnsupportedMediaTypeError,
	http.StatusUnprocessableEntity:         gen.ErrorBodyTypeValidationError,
	http.StatusTooManyRequests:             gen.ErrorBodyTypeTooManyRequestsError,
	http.StatusGatewayTimeout:              gen.ErrorBodyTypeTimeoutError,
	http.StatusServiceUnavailable:          gen.ErrorBodyTypeServiceUnavailableError,
	http.StatusRequestHeaderFieldsTooLarge: gen.ErrorBodyTypeRequestHeaderFieldsTooLargeError,
	http.StatusNotImplemented:              gen.ErrorBodyTypeNotImplementedError,
}

// toAPIError maps any error to the envelope, once, at the edge. Unknown
// errors become a 500 that shows nothing of their text.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ce *connvault.Error
	if errors.As(err, &ce) {
		e := &apiError{Message: ce.Message}
		switch ce.Code {
		case connvault.EINVALID:
			e.Status, e.Type = http.StatusUnprocessableEntity, gen.ErrorBodyTypeValidationError
			if len(ce.Field) > 0 {
				e.Items = []gen.ValidationErrorItem{{Type: "invalid", Location: ce.Field, Message: ce.Message}}
			}
		case connvault.ENOTFOUND:
			e.Status, e.Type = http.StatusNotFound, gen.ErrorBodyTypeNotFoundError
		case connvault.ECONFLICT:
			e.Status, e.Type = http.StatusConflict, gen.ErrorBodyTypeAlreadyExistsError
		case connvault.ESTATE:
			e.Status, e.Type = http.StatusConflict, gen.ErrorBodyTypeConflictError
		case connvault.EUNAUTH:
			e.Status, e.Type = http.StatusUnauthorized, gen.ErrorBodyTypeUnauthorizedError
		case connvault.ETIMEOUT:
			e.Status, e.Type = http.StatusGatewayTimeout, gen.ErrorBodyTypeTimeoutError
		case connvault.EUNAVAILABLE:
			e.Status, e.Type, e.retryAfter = http.StatusServiceUnavailable, gen.ErrorBodyTypeServiceUnavailableError, 1
		default:
			return internalError()
		}
		return e
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fromHTTPError(he)
	}
	return internalError()
}

func internalError() *apiError {
	return &apiError{Status: http.StatusInternalServerError, Type: gen.ErrorBodyTypeInternalServerError, Message: "internal error"}
}

// fromHTTPError covers what Echo itself answers: unknown routes, 405, and
// body binding failures. Echo's own messages may quote input, so fixed
// messages are used instead.
func fromHTTPError(he *echo.HTTPError) *apiError {
	typ, ok := errorTypes[he.Code]
	if !ok {
		if he.Code >= 500 {
			return internalError()
		}
		typ = gen.ErrorBodyTypeBadRequestError
	}
	msg := http.StatusText(he.Code)
	switch he.Code {
	case http.StatusNotFound:
		msg = "no such route"
	case http.StatusMethodNotAllowed:
		msg = "method not allowed on this route"
	case http.StatusBadRequest:
		msg = "request body is not valid JSON"
	case http.StatusUnsupportedMediaType:
		msg = "request body must be application/json"
	case http.StatusRequestEntityTooLarge:
		msg = "request body is too large"
	}
	return &apiError{Status: he.Code, Type: typ, Message: strings.ToLower(msg[:1]) + msg[1:]}
}

// validationError converts what the request validator found into the
// envelope: 400 for unparsable bodies, 415 for the wrong content type, 404
// and 405 for routes, 422 with one item per broken rule otherwise. Messages
// come from kin-openapi with schema details disabled, so they name fields
// and rules, never submitted values.
func validationError(he *echo.HTTPError) *apiError {
	if he.Internal == nil {
		return fromHTTPError(he)
	}
	var items []gen.ValidationErrorItem
	status := http.StatusUnprocessableEntity
	var walk func(err error)
	walk = func(err error) {
		var me openapi3.MultiError
		var re *openapi3filter.RequestError
		var se *openapi3.SchemaError
		var pe *openapi3filter.ParseError
		switch {
		case errors.As(err, &me) && isMulti(err):
			for _, e := range me {
				walk(e)
			}
		case errors.As(err, &re):
			switch {
			case re.Parameter != nil && re.Parameter.In == "path":
				// Only an identifier is in the path: one the spec refuses
				// (longer than any name) names no connection.
				status = http.StatusNotFound
			case errors.As(re.Err, &pe):
				if re.Parameter != nil {
					items = append(items, gen.ValidationErrorItem{Type: "invalid", Location: []string{re.Parameter.In, re.Parameter.Name}, Message: "value has the wrong type"})
					return
				}
				status = http.StatusBadRequest
			case strings.HasPrefix(re.Reason, "header Content-Type has unexpected value"),
				strings.Contains(re.Error(), "unsupported content type"):
				status = http.StatusUnsupportedMediaType
			case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
				loc := []string{"body"}
				if re.Parameter != nil {
					loc = []string{re.Parameter.In, re.Parameter.Name}
				}
				items = append(items, gen.ValidationErrorItem{Type: "missing", Location: loc, Message: "value is required but missing"})
			case re.Err != nil:
				prefix := []string{"body"}
				if re.Parameter != nil {
					prefix = []string{re.Parameter.In, re.Parameter.Name}
				}
				items = append(items, schemaItems(re.Err, prefix)...)
			default:
				items = append(items, gen.ValidationErrorItem{Type: "invalid", Location: []string{"body"}, Message: re.Reason})
			}
		case errors.As(err, &se):
			items = append(items, schemaItems(se, []string{"body"})...)
		default:
			var sre *openapi3filter.SecurityRequirementsError
			if errors.As(err, &sre) {
				status = http.StatusUnauthorized
				return
			}
			items = append(items, gen.ValidationErrorItem{Type: "invalid", Location: []string{"body"}, Message: "request is not valid"})
		}
	}
	walk(he.Internal)
	switch status {
	case http.StatusNotFound:
		return &apiError{Status: status, Type: gen.ErrorBodyTypeNotFoundError, Message: "connection not found"}
	case http.StatusBadRequest:
		return &apiError{Status: status, Type: gen.ErrorBodyTypeBadRequestError, Message: "request body is not valid JSON"}
	case http.StatusUnsupportedMediaType:
		return fromHTTPError(&echo.HTTPError{Code: status})
	case http.StatusUnauthorized:
		return &apiError{Status: status, Type: gen.ErrorBodyTypeUnauthorizedError, Message: "a valid API key is required"}
	}
	return &apiError{Status: status, Type: gen.ErrorBodyTypeValidationError, Message: summarize(items), Items: items}
}

func isMulti(err error) bool {
	_, ok := err.(openapi3.MultiError)
	return ok
}

// schemaItems flattens schema errors (including those nested in oneOf,
// allOf and discriminator failures) into items located under prefix.
func schemaItems(err error, prefix []string) []gen.ValidationErrorItem {
	var out []gen.ValidationErrorItem
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case openapi3.MultiError:
			for _, inner := range e {
				walk(inner)
			}
			return
		case *openapi3.SchemaError:
			var nestedSE *openapi3.SchemaError
			var nestedME openapi3.MultiError
			if e.Origin != nil && (errors.As(e.Origin, &nestedSE) || errors.As(e.Origin, &nestedME)) {
				walk(e.Origin)
				return
			}
			out = append(out, schemaItem(e, prefix))
			return
		}
		if inner := errors.Unwrap(err); inner != nil {
			walk(inner)
			return
		}
		out = append(out, gen.ValidationErrorItem{Type: "invalid", Location: prefix, Message: "value is not valid"})
	}
	walk(err)
	return out
}

// schemaItem describes one broken rule. kin-openapi names the property at
// fault in quotes for rules about an object's members, so the location
// points at the member, not at the object.
func schemaItem(se *openapi3.SchemaError, prefix []string) gen.ValidationErrorItem {
	loc := append(append([]string{}, prefix...), se.JSONPointer()...)
	item := gen.ValidationErrorItem{Type: "invalid", Message: se.Reason}
	name, named := quoted(se.Reason)
	switch {
	case se.SchemaField == "required":
		item.Type = "missing"
	case strings.HasSuffix(se.Reason, "is unsupported"):
		item.Type = "unknown_field"
		item.Message = "unknown field " + `"` + name + `"`
	case se.SchemaField == "readOnly" || strings.HasPrefix(se.Reason, "readOnly property"):
		item.Type = "read_only"
		item.Message = "field " + `"` + name + `"` + " is read-only and cannot be set"
	case se.SchemaField == "format" || (se.Origin != nil && se.Schema != nil && se.Schema.Format != ""):
		// The format checker's own text may quote the value: use ours.
		item.Message = "value is not a valid " + se.Schema.Format
		named = false
	case se.SchemaField == "discriminator":
		// Name the accepted values, so a typo is easy to fix.
		if se.Schema != nil && se.Schema.Discriminator != nil && strings.HasSuffix(se.Reason, "has invalid value") {
			values := make([]string, 0, len(se.Schema.Discriminator.Mapping))
			for v := range se.Schema.Discriminator.Mapping {
				values = append(values, v)
			}
			sort.Strings(values)
			item.Message = name + " must be one of: " + strings.Join(values, ", ")
		}
	case se.SchemaField == "not" && len(loc) > 0 && loc[len(loc)-1] == "name":
		item.Message = "name must not start with conn_ (the prefix of connection ids) nor be \"list\" (the list route)"
		named = false
	default:
		named = false
	}
	if named && (len(loc) == 0 || loc[len(loc)-1] != name) {
		loc = append(loc, name)
	}
	if item.Message == "" {
		item.Message = "value does not satisfy the schema's " + se.SchemaField + " rule"
	}
	item.Location = loc
	return item
}

// quoted returns the first double-quoted word of s: kin-openapi names the
// property at fault that way ("property \"name\" is missing").
func quoted(s string) (string, bool) {
	i := strings.IndexByte(s, '"')
	if i < 0 {
		return "", false
	}
	j := strings.IndexByte(s[i+1:], '"')
	if j < 0 {
		return "", false
	}
	return s[i+1 : i+1+j], true
}

func summarize(items []gen.ValidationErrorItem) string {
	if len(items) == 0 {
		return "request validation failed"
	}
	first := items[0]
	msg := strings.Join(first.Location, ".") + ": " + first.Message
	if len(items) > 1 {
		msg += " (and more, see details)"
	}
	return msg
}

// handleError is the Echo error handler: every non-2xx answer, whatever its
// origin, leaves here in the envelope.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ae := toAPIError(err)
	if ae.Status >= 500 {
		// The path pattern, not the URL: a name in the URL is the user's.
		s.log.ErrorContext(c.Request().Context(), "request failed", "method", c.Request().Method, "route", c.Path(), "error", sanitizeText(err.Error()))
	}
	if ae.Status == http.StatusUnauthorized || ae.Status == http.StatusTooManyRequests || ae.Status == http.StatusRequestEntityTooLarge {
		// Refused before its body was read: close rather than let net/http
		// read (up to 256 KiB of) an unwanted body before answering.
		c.Response().Header().Set(echo.HeaderConnection, "close")
	}
	if ae.Status == http.StatusMethodNotAllowed {
		if allow := c.Response().Header().Get("Allow"); allow == "" {
			c.Response().Header().Set("Allow", allowedMethods(c.Request().URL.Path))
		}
	}
	if ae.retryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.Status)
		return
	}
	_ = c.JSON(ae.Status, ae.envelope(requestID(c.Request().Context())))
}

// allowedMethods answers the Allow header of a 405 from the spec's paths.
func allowedMethods(path string) string {
	switch {
	case path == "/v1/organizations/connections":
		return "GET, POST"
	case path == "/v1/organizations/connections/list":
		return "POST"
	case strings.HasSuffix(path, "/test"):
		return "POST"
	default:
		return "GET, PATCH, DELETE"
	}
}
