package server

import (
	"fmt"
	"strings"

	"github.com/connvault/connvault"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/oapi-codegen/runtime"
)

// identifierOnly serves the operations whose only input is the connection
// identifier in the path (GET, DELETE and POST .../test of one connection;
// no query, no body): it checks the identifier against the spec's own
// schema of that parameter and lets the generic request validator skip
// the request. The generic pipeline (route matching, security and
// parameter decoding) cost more than the rest of a GET; the rule checked
// is the same one, read from the same spec, so it cannot drift.
type identifierOnly struct {
	name   string
	schema *openapi3.Schema
	routes map[route]bool // {GET /v1/organizations/connections/:connection_identifier}
	// static are the spec's paths without parameters: a request for one
	// (GET .../connections/list) belongs to that path's operations, and the
	// generic validator answers it (405 with Allow).
	static map[string]bool
}

// route is a method and an Echo path: a key built without concatenating
// them for every request.
type route struct{ method, path string }

func newIdentifierOnly(spec *openapi3.T) (*identifierOnly, error) {
	ref, ok := spec.Components.Parameters["ConnectionIdentifier"]
	if !ok || ref.Value == nil || ref.Value.Schema == nil || ref.Value.Schema.Value == nil {
		return nil, fmt.Errorf("spec: no ConnectionIdentifier parameter")
	}
	io := &identifierOnly{name: ref.Value.Name, schema: ref.Value.Schema.Value, routes: map[route]bool{}, static: map[string]bool{}}
	for path, item := range spec.Paths.Map() {
		if !strings.Contains(path, "{") {
			io.static[path] = true
		}
		for method, op := range item.Operations() {
			params := append(append(openapi3.Parameters{}, item.Parameters...), op.Parameters...)
			if op.RequestBody != nil || len(params) != 1 || params[0].Value != ref.Value {
				continue
			}
			echoPath := strings.ReplaceAll(path, "{"+io.name+"}", ":"+io.name)
			io.routes[route{method, echoPath}] = true
		}
	}
	if len(io.routes) == 0 {
		return nil, fmt.Errorf("spec: no operation takes only the connection identifier")
	}
	return io, nil
}

// covers reports whether c is a request for one of these operations. The
// middleware answers every request it covers (checked or refused), so the
// generic validator skips exactly these.
func (io *identifierOnly) covers(c echo.Context) bool {
	req := c.Request()
	return c.Param(io.name) != "" && io.routes[route{req.Method, c.Path()}] && !io.static[req.URL.Path]
}

func (io *identifierOnly) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !io.covers(c) {
			return next(c) // not one of them: the generic validator decides
		}
		// Decoded exactly as the generated handler will decode it.
		var id string
		err := runtime.BindStyledParameterWithOptions("simple", io.name, c.Param(io.name), &id, runtime.BindStyledParameterOptions{
			ParamLocation: runtime.ParamLocationPath, Required: true, Type: "string", ValueIsUnescaped: c.Request().URL.RawPath == ""})
		if err != nil || io.schema.VisitJSON(id, openapi3.DisableSchemaErrorDetails()) != nil {
			// An identifier the spec refuses names no connection.
			return connvault.Errorf(connvault.ENOTFOUND, "connection not found")
		}
		return next(c)
	}
}
