package server

import (
	"errors"
	"net/http"
	"slices"
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
	if e.Status == http.StatusUnprocessableEntity {
		body.Detail = fastAPIDetail(e)
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
			for _, f := range ce.Fields {
				e.Items = append(e.Items, gen.ValidationErrorItem{Type: f.Type, Location: f.Location, Message: f.Message})
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
		case connvault.EPROVIDER:
			e.Status, e.Type = http.StatusBadGateway, gen.ErrorBodyTypeProviderError
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
// for identifiers no connection can have, 422 with one item per broken
// rule otherwise. Messages come from kin-openapi with schema details
// disabled, so they name fields and rules, never submitted values.
func validationError(he *echo.HTTPError) error {
	if he.Internal == nil {
		return fromHTTPError(he)
	}
	var fields []connvault.FieldError
	status := http.StatusUnprocessableEntity
	var walk func(err error)
	walk = func(err error) {
		var me openapi3.MultiError
		var re *openapi3filter.RequestError
		var se *openapi3.SchemaError
		var pe *openapi3filter.ParseError
		var sre *openapi3filter.SecurityRequirementsError
		switch {
		case errors.As(err, &me) && isMulti(err):
			for _, e := range me {
				walk(e)
			}
		case errors.As(err, &re):
			var loc []string
			if re.Parameter != nil {
				loc = []string{re.Parameter.In, re.Parameter.Name}
			}
			switch {
			case re.Parameter != nil && re.Parameter.In == "path":
				// Only an identifier is in the path: one the spec refuses
				// (longer than any name) names no connection.
				status = http.StatusNotFound
			case errors.As(re.Err, &pe) && re.Parameter != nil:
				fields = append(fields, connvault.FieldError{Type: "invalid", Location: loc, Message: "value has the wrong type"})
			case errors.As(re.Err, &pe):
				status = http.StatusBadRequest
			case wrongContentType(re):
				status = http.StatusUnsupportedMediaType
			case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
				fields = append(fields, connvault.FieldError{Type: "missing", Location: orBody(loc), Message: "value is required but missing"})
			case re.Err != nil:
				fields = append(fields, schemaFields(re.Err, orBody(loc))...)
			default:
				fields = append(fields, connvault.FieldError{Type: "invalid", Location: orBody(loc), Message: re.Reason})
			}
		case errors.As(err, &se):
			fields = append(fields, schemaFields(se, []string{"body"})...)
		case errors.As(err, &sre):
			status = http.StatusUnauthorized
		default:
			fields = append(fields, connvault.FieldError{Type: "invalid", Location: []string{"body"}, Message: "request is not valid"})
		}
	}
	walk(he.Internal)
	switch status {
	case http.StatusNotFound:
		return connvault.Errorf(connvault.ENOTFOUND, "connection not found")
	case http.StatusBadRequest:
		return &apiError{Status: status, Type: gen.ErrorBodyTypeBadRequestError, Message: "request body is not valid JSON"}
	case http.StatusUnsupportedMediaType:
		return fromHTTPError(&echo.HTTPError{Code: status})
	case http.StatusUnauthorized:
		return &apiError{Status: status, Type: gen.ErrorBodyTypeUnauthorizedError, Message: "a valid API key is required"}
	}
	return invalidFields(fields)
}

// invalidFields is the domain error for broken rules, summarised by the
// first of them.
func invalidFields(fields []connvault.FieldError) *connvault.Error {
	msg := "request validation failed"
	if len(fields) > 0 {
		msg = strings.Join(fields[0].Location, ".") + ": " + fields[0].Message
		if len(fields) > 1 {
			msg += " (and more, see details)"
		}
	}
	return &connvault.Error{Code: connvault.EINVALID, Message: msg, Fields: fields}
}

// wrongContentType recognises kin-openapi's refusal of a media type. It has
// no typed error for it, only these two texts (its own
// validation_error_encoder matches them the same way); a test pins both.
func wrongContentType(re *openapi3filter.RequestError) bool {
	return strings.HasPrefix(re.Reason, "header Content-Type has unexpected value") ||
		strings.Contains(re.Error(), "unsupported content type")
}

func orBody(loc []string) []string {
	if loc == nil {
		return []string{"body"}
	}
	return loc
}

func isMulti(err error) bool {
	_, ok := err.(openapi3.MultiError)
	return ok
}

// schemaFields flattens schema errors (including those nested in oneOf,
// allOf and discriminator failures) into broken rules located under prefix.
func schemaFields(err error, prefix []string) []connvault.FieldError {
	var out []connvault.FieldError
	seen := map[string]bool{}
	add := func(f connvault.FieldError) {
		key := strings.Join(f.Location, "\x00") + "\x00" + f.Type + "\x00" + f.Message
		if !seen[key] {
			seen[key] = true
			out = append(out, f)
		}
	}
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case openapi3.MultiError:
			for _, inner := range e {
				walk(inner)
			}
			return
		case *openapi3.SchemaError:
			if fields, ok := oneOfByType(e, prefix); ok {
				for _, f := range fields {
					add(f)
				}
				return
			}
			var nestedSE *openapi3.SchemaError
			var nestedME openapi3.MultiError
			if e.Origin != nil && (errors.As(e.Origin, &nestedSE) || errors.As(e.Origin, &nestedME)) {
				walk(e.Origin)
				return
			}
			for _, f := range schemaRule(e, prefix) {
				add(f)
			}
			return
		}
		if inner := errors.Unwrap(err); inner != nil {
			walk(inner)
			return
		}
		add(connvault.FieldError{Type: "invalid", Location: prefix, Message: "value is not valid"})
	}
	walk(err)
	return out
}

// oneOfByType reports a value that matched no variant of a oneOf told
// apart by its fields (credentials whose `type` may be left out) as the
// variant the client meant: the one its `type` names, or without a type
// the one it came closest to. Otherwise every variant's complaints would
// be listed, most of them about fields of kinds the client never wanted.
func oneOfByType(e *openapi3.SchemaError, prefix []string) ([]connvault.FieldError, bool) {
	if e.SchemaField != "oneOf" || e.Schema == nil || e.Schema.Discriminator != nil {
		return nil, false
	}
	var perVariant openapi3.MultiError
	obj, isObj := e.Value.(map[string]any)
	if !isObj || !errors.As(e.Origin, &perVariant) || len(perVariant) != len(e.Schema.OneOf) {
		return nil, false
	}
	kinds := make([]string, len(e.Schema.OneOf))
	for i, v := range e.Schema.OneOf {
		if t, ok := v.Value.Properties["type"]; ok && len(t.Value.Enum) == 1 {
			kinds[i], _ = t.Value.Enum[0].(string)
		}
		if kinds[i] == "" {
			return nil, false
		}
	}
	if typ, given := obj["type"]; given {
		for i, kind := range kinds {
			if typ == kind {
				return schemaFields(perVariant[i], prefix), true
			}
		}
		sorted := slices.Clone(kinds)
		sort.Strings(sorted)
		loc := append(append(append([]string{}, prefix...), e.JSONPointer()...), "type")
		return []connvault.FieldError{{Type: "invalid", Location: loc, Message: "type must be one of: " + strings.Join(sorted, ", ")}}, true
	}
	var best []connvault.FieldError
	for i := range kinds {
		if fields := schemaFields(perVariant[i], prefix); best == nil || len(fields) < len(best) {
			best = fields
		}
	}
	return best, true
}

// schemaRule describes one broken rule from the error's typed fields: the
// schema keyword that failed (SchemaField), the value and the schema. The
// location is the JSON pointer kin-openapi keeps, which for "required" and
// "readOnly" already ends at the property.
func schemaRule(se *openapi3.SchemaError, prefix []string) []connvault.FieldError {
	loc := append(append([]string{}, prefix...), se.JSONPointer()...)
	at := func(extra ...string) []string { return append(append([]string{}, loc...), extra...) }
	switch se.SchemaField {
	case "required":
		return []connvault.FieldError{{Type: "missing", Location: loc, Message: se.Reason}}
	case "properties":
		// additionalProperties: false. The unknown members are those of
		// the value the schema does not declare.
		var out []connvault.FieldError
		if obj, ok := se.Value.(map[string]any); ok && se.Schema != nil {
			names := make([]string, 0, len(obj))
			for name := range obj {
				if _, declared := se.Schema.Properties[name]; !declared {
					names = append(names, name)
				}
			}
			sort.Strings(names)
			for _, name := range names {
				out = append(out, connvault.FieldError{Type: "unknown_field", Location: at(name), Message: "unknown field " + strconv.Quote(name)})
			}
		}
		if len(out) == 0 {
			out = append(out, connvault.FieldError{Type: "unknown_field", Location: loc, Message: "unknown field"})
		}
		return out
	case "readOnly":
		name := ""
		if len(loc) > 0 {
			name = loc[len(loc)-1]
		}
		return []connvault.FieldError{{Type: "read_only", Location: loc, Message: "field " + strconv.Quote(name) + " is read-only and cannot be set"}}
	case "format":
		// The format checker's own text may quote the value: use ours.
		return []connvault.FieldError{{Type: "invalid", Location: loc, Message: "value is not a valid " + se.Schema.Format}}
	case "discriminator":
		d := se.Schema.Discriminator
		if d == nil {
			return []connvault.FieldError{{Type: "invalid", Location: loc, Message: se.Reason}}
		}
		if len(loc) == 0 || loc[len(loc)-1] != d.PropertyName {
			loc = at(d.PropertyName)
		}
		if _, isString := se.Value.(string); isString && len(d.Mapping) > 0 {
			// Name the accepted values, so a typo is easy to fix.
			values := make([]string, 0, len(d.Mapping))
			for v := range d.Mapping {
				values = append(values, v)
			}
			sort.Strings(values)
			return []connvault.FieldError{{Type: "invalid", Location: loc, Message: d.PropertyName + " must be one of: " + strings.Join(values, ", ")}}
		}
		return []connvault.FieldError{{Type: "invalid", Location: loc, Message: se.Reason}}
	case "not":
		if len(loc) > 0 && loc[len(loc)-1] == "name" {
			return []connvault.FieldError{{Type: "invalid", Location: loc, Message: "name must not start with conn_ (the prefix of connection ids) nor be \"list\" (the list route)"}}
		}
	}
	if se.Origin != nil && se.Schema != nil && se.Schema.Format != "" {
		return []connvault.FieldError{{Type: "invalid", Location: loc, Message: "value is not a valid " + se.Schema.Format}}
	}
	msg := se.Reason
	if msg == "" {
		msg = "value does not satisfy the schema's " + se.SchemaField + " rule"
	}
	return []connvault.FieldError{{Type: "invalid", Location: loc, Message: msg}}
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

// fastAPIDetail is a 422's broken rules in FastAPI's shape, which clients
// generated from FastAPI specs (Mixpeek's) read.
func fastAPIDetail(e *apiError) *[]gen.ErrorDetail {
	out := make([]gen.ErrorDetail, 0, max(1, len(e.Items)))
	for _, it := range e.Items {
		out = append(out, gen.ErrorDetail{Loc: it.Location, Msg: it.Message, Type: it.Type})
	}
	if len(out) == 0 {
		out = append(out, gen.ErrorDetail{Loc: []string{"body"}, Msg: e.Message, Type: "invalid"})
	}
	return &out
}
