package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
)

// scopeExtension names, on each operation of the spec, the scope its caller
// needs: the spec says who may do what, the server reads it from there.
const scopeExtension = "x-connvault-scope"

// requiredScopes maps "METHOD /echo/:path" to the scope the spec requires.
func requiredScopes(spec *openapi3.T) (map[string]connvault.Scope, error) {
	out := map[string]connvault.Scope{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				continue // public (probes)
			}
			raw, ok := op.Extensions[scopeExtension]
			if !ok {
				return nil, fmt.Errorf("spec: %s %s has no %s", method, path, scopeExtension)
			}
			name, _ := raw.(string)
			if !connvault.ValidScope(name) {
				return nil, fmt.Errorf("spec: %s %s: unknown scope %v", method, path, raw)
			}
			echoPath := path
			for _, p := range item.Parameters {
				echoPath = strings.ReplaceAll(echoPath, "{"+p.Value.Name+"}", ":"+p.Value.Name)
			}
			for _, p := range op.Parameters {
				echoPath = strings.ReplaceAll(echoPath, "{"+p.Value.Name+"}", ":"+p.Value.Name)
			}
			out[method+" "+echoPath] = connvault.Scope(name)
		}
	}
	return out, nil
}

// requireScope answers 403 when the caller's key lacks the operation's
// scope. It runs after authenticate, before anything reads the request.
func (s *Server) requireScope(scopes map[string]connvault.Scope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			need, ok := scopes[c.Request().Method+" "+c.Path()]
			if !ok {
				return next(c) // an unknown route or method: answered as such
			}
			if !principal(c.Request().Context()).Can(need) {
				return &apiError{Status: http.StatusForbidden, Type: gen.ErrorBodyTypeForbiddenError,
					Message: "this API key lacks the " + string(need) + " scope this operation needs"}
			}
			return next(c)
		}
	}
}
