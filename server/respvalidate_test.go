package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// A violation's report names what is wrong, not the values: an answer
// that breaks the spec may hold a new API key or issued credentials, and
// the report goes to the log.
func TestResponseViolationsDoNotQuoteTheAnswer(t *testing.T) {
	spec, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	var reported error
	mw, err := validateResponses(spec, func(_, _ string, _ int, err error) { reported = err })
	if err != nil {
		t.Fatal(err)
	}
	const secret = "sk_ThisKeyMustNeverReachTheLog0123456789"
	e := echo.New()
	req := httptest.NewRequest(http.MethodPost, "http://localhost:8000/v1/organizations/api-keys", strings.NewReader(`{"name":"k"}`))
	req.Header.Set("Content-Type", "application/json")
	c := e.NewContext(req, httptest.NewRecorder())
	answer := func(c echo.Context) error {
		// The key where the spec has an object, and no other field.
		return c.JSONBlob(http.StatusOK, []byte(`{"key": {"raw": "`+secret+`"}}`))
	}
	if err := mw(answer)(c); err != nil {
		t.Fatal(err)
	}
	if reported == nil {
		t.Fatal("an answer that breaks the spec was not reported")
	}
	if msg := reported.Error(); strings.Contains(msg, secret) || strings.Contains(msg, "ThisKeyMustNever") {
		t.Fatalf("the report quotes the answer: %s", msg)
	}
}
