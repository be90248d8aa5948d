package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

func init() {
	Register(&Provider{
		Type:    "http_api",
		Secrets: []string{"credentials.headers.*"},
		Check:   checkHTTPAPI,
	})
}

type httpAPIConfig struct {
	BaseURL        string                 `json:"base_url"`
	HTTPMethod     string                 `json:"http_method"`
	RequestBody    map[string]any         `json:"request_body"`
	ItemsPath      string                 `json:"items_path"`
	ItemIDField    string                 `json:"item_id_field"`
	RequestTimeout int                    `json:"request_timeout"`
	Credentials    httpHeadersCredentials `json:"credentials"`
	Pagination     struct {
		Type       string `json:"type"`
		CursorPath string `json:"cursor_path"`
	} `json:"pagination"`
}

// checkHTTPAPI performs the configured request for the first page and
// proves the answer has what a sync needs: the item array at items_path,
// items with item_id_field, and the cursor when cursor paging is set.
func checkHTTPAPI(ctx context.Context, cfg Config, env Env) Result {
	var c httpAPIConfig
	if err := decodeConfig(cfg, &c); err != nil {
		return failed("read configuration", "the configuration cannot be read")
	}
	ctx, cancel := withRequestTimeout(ctx, c.RequestTimeout)
	defer cancel()
	method := c.HTTPMethod
	if method == "" {
		method = http.MethodGet
	}
	var body *bytes.Reader
	if method == http.MethodPost && c.RequestBody != nil {
		b, _ := json.Marshal(c.RequestBody)
		body = bytes.NewReader(b)
	} else {
		body = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL, body)
	if err != nil {
		return failed("fetch first page", "base_url is not a valid URL")
	}
	if body.Len() > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	setHeaders(req, c.Credentials.Headers, "")
	raw, err := fetch(env, req)
	if err != nil {
		return failed("fetch first page", Describe(err))
	}
	steps := []Step{{Name: "fetch first page", Status: StepPassed, Message: fmt.Sprintf("%d bytes", len(raw))}}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		msg := "the answer is not JSON"
		return Result{Message: msg, Steps: append(steps, Step{Name: "find items", Status: StepFailed, Message: msg})}
	}
	node, ok := lookupPath(doc, c.ItemsPath)
	items, isArray := node.([]any)
	if !ok || !isArray {
		msg := "items_path " + displayPath(c.ItemsPath) + " was not found in the answer"
		if ok {
			msg = "items_path " + displayPath(c.ItemsPath) + " is not an array in the answer"
		}
		return Result{Message: msg, Steps: append(steps, Step{Name: "find items", Status: StepFailed, Message: msg})}
	}
	if len(items) > 0 {
		first, isObj := items[0].(map[string]any)
		if _, has := first[c.ItemIDField]; !isObj || !has {
			msg := "items have no field " + c.ItemIDField
			return Result{Message: msg, Steps: append(steps, Step{Name: "find items", Status: StepFailed, Message: msg})}
		}
	}
	msg := fmt.Sprintf("found %d items with field %s", len(items), c.ItemIDField)
	if len(items) == 0 {
		msg = "the first page has no items yet (the array exists)"
	}
	steps = append(steps, Step{Name: "find items", Status: StepPassed, Message: msg})
	if c.Pagination.Type == "cursor" && c.Pagination.CursorPath != "" {
		if _, ok := lookupPath(doc, c.Pagination.CursorPath); !ok {
			m := "pagination cursor_path " + c.Pagination.CursorPath + " was not found in the answer"
			return Result{Message: m, Steps: append(steps, Step{Name: "find cursor", Status: StepFailed, Message: m})}
		}
		steps = append(steps, Step{Name: "find cursor", Status: StepPassed, Message: "the cursor is in the answer"})
	}
	return Result{Success: true, Message: msg, Steps: steps}
}

// lookupPath follows a dotted path through JSON objects; "" is the root.
func lookupPath(doc any, path string) (any, bool) {
	if path == "" {
		return doc, true
	}
	node := doc
	for _, seg := range strings.Split(path, ".") {
		obj, ok := node.(map[string]any)
		if !ok {
			return nil, false
		}
		if node, ok = obj[seg]; !ok {
			return nil, false
		}
	}
	return node, true
}

func displayPath(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}
