package server

import (
	"bytes"
	"context"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"
)

// ResponseViolation is called when an answer does not match the spec.
type ResponseViolation func(method, path string, status int, err error)

// validateResponses checks every API answer against the spec, so the spec
// is provably what the server does: tests fail on a mismatch, and a
// deployment with CONNVAULT_VALIDATE_RESPONSES=true logs it.
func validateResponses(spec *openapi3.T, report ResponseViolation) (echo.MiddlewareFunc, error) {
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		return nil, err
	}
	// Reports name the field and the rule, never the value: an answer that
	// breaks the spec may hold a new API key or issued credentials.
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
		AuthenticationFunc:      func(context.Context, *openapi3filter.AuthenticationInput) error { return nil },
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()}}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !isAPI(c) {
				return next(c)
			}
			rec := &teeWriter{ResponseWriter: c.Response().Writer}
			c.Response().Writer = rec
			err := next(c)
			req := c.Request()
			route, params, ferr := router.FindRoute(req)
			if ferr != nil {
				// Unknown routes and methods: only the envelope can be checked.
				return err
			}
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
				Status:                 c.Response().Status,
				Header:                 c.Response().Header(),
				Options:                opts,
			}
			in.SetBodyBytes(rec.body.Bytes())
			if verr := openapi3filter.ValidateResponse(context.Background(), in); verr != nil {
				report(req.Method, req.URL.Path, c.Response().Status, verr)
			}
			return err
		}
	}, nil
}

// teeWriter passes the answer through and keeps a copy to validate.
type teeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}
