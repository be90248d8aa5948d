package server

import (
	"embed"
	"net/http"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
	"github.com/labstack/echo/v4"
)

// docsFS holds the API reference page and the Redoc bundle it runs.
//
//go:embed docs/index.html docs/redoc.standalone.js
var docsFS embed.FS

// registerDocs serves the spec and its reference page; none needs a key.
func registerDocs(e *echo.Echo) error {
	specJSON, err := gen.GetSpecJSON()
	if err != nil {
		return err
	}
	index, err := docsFS.ReadFile("docs/index.html")
	if err != nil {
		return err
	}
	bundle, err := docsFS.ReadFile("docs/redoc.standalone.js")
	if err != nil {
		return err
	}
	e.GET("/openapi.json", func(c echo.Context) error { return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, specJSON) })
	e.GET("/openapi.yaml", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", connvault.SpecYAML) })
	e.GET("/docs", func(c echo.Context) error { return c.HTMLBlob(http.StatusOK, index) })
	e.GET("/docs/redoc.standalone.js", func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=86400")
		return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", bundle)
	})
	return nil
}
