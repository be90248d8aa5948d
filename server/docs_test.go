package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/connvault/connvault/connvaulttest"
)

func TestSpecAndDocsNeedNoKey(t *testing.T) {
	t.Parallel()
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	r := h.CallAs(t, "", "GET", "/openapi.json", nil)
	var spec map[string]any
	if r.Status != 200 || json.Unmarshal(r.Body, &spec) != nil || spec["openapi"] != "3.0.3" {
		t.Fatalf("/openapi.json: %d", r.Status)
	}
	if servers, _ := spec["servers"].([]any); len(servers) == 0 {
		t.Error("served spec lost its servers")
	}
	if y := h.CallAs(t, "", "GET", "/openapi.yaml", nil); y.Status != 200 || !strings.HasPrefix(string(y.Body), "openapi: 3.0.3") {
		t.Errorf("/openapi.yaml: %d", y.Status)
	}
	d := h.CallAs(t, "", "GET", "/docs", nil)
	if d.Status != 200 || !strings.Contains(string(d.Body), `spec-url="/openapi.json"`) || strings.Contains(string(d.Body), "cdn.") {
		t.Errorf("/docs: %d %s", d.Status, d.Body)
	}
	js := h.CallAs(t, "", "GET", "/docs/redoc.standalone.js", nil)
	if js.Status != 200 || len(js.Body) < 100_000 {
		t.Errorf("redoc bundle: %d, %d bytes", js.Status, len(js.Body))
	}
	if hz := h.CallAs(t, "", "GET", "/healthz", nil); hz.Status != 200 {
		t.Errorf("/healthz: %d", hz.Status)
	}
}
