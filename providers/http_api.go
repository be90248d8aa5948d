package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func init() {
	register("http_api", []string{"credentials.headers.*"}, checkHTTPAPI, issueHTTPAPI, secretsBoundTo[httpAPIConfig]("base_url"))
}

type httpAPIConfig struct {
	BaseURL        string                 `json:"base_url"`
	HTTPMethod     string                 `json:"http_method"`
	RequestBody    map[string]any         `json:"request_body"`
	ItemsPath      string                 `json:"items_path"`
	ItemIDField    string                 `json:"item_id_field"`
	RequestTimeout int                    `json:"request_timeout"`
	Credentials    httpHeadersCredentials `json:"credentials"`
	Pagination     httpAPIPagination      `json:"pagination"`
	// ResponseContentType is json (one document, items at items_path) or
	// jsonl (one item per line, items_path unused).
	ResponseContentType string `json:"response_content_type"`
	// ItemModifiedField, when set, is the field a sync reads to tell
	// changed items; the check proves the items carry it.
	ItemModifiedField string `json:"item_modified_field"`
	UserAgent         string `json:"user_agent"`
}

// httpAPIPagination says how a sync walks the API. The check fetches only
// the first page, asking for it the way the sync will, so a wrong
// parameter name fails now rather than on page two.
type httpAPIPagination struct {
	// Type is none, page, offset or cursor.
	Type string `json:"type"`
	// PageParam is the query parameter carrying the page number (page)
	// or the offset (offset).
	PageParam string `json:"page_param"`
	// SizeParam and PageSize ask for a page size, when both are set.
	SizeParam string `json:"size_param"`
	PageSize  int    `json:"page_size"`
	// CursorPath is the dotted path of the next cursor in the answer and
	// CursorParam the query parameter that sends it back.
	CursorPath  string `json:"cursor_path"`
	CursorParam string `json:"cursor_param"`
}

// firstPage asks for the first page the way a sync will.
func (p httpAPIPagination) firstPage(q url.Values) {
	switch p.Type {
	case "page", "offset":
		if p.PageParam != "" {
			first := "1"
			if p.Type == "offset" {
				first = "0"
			}
			q.Set(p.PageParam, first)
		}
	}
	if p.Type != "" && p.Type != "none" && p.SizeParam != "" && p.PageSize > 0 {
		q.Set(p.SizeParam, strconv.Itoa(p.PageSize))
	}
}

// issueHTTPAPI hands out the configured headers, the API's only
// credentials.
func issueHTTPAPI(_ context.Context, c httpAPIConfig, _ Env) (Issued, error) {
	return c.Credentials.issue()
}

// checkHTTPAPI performs the configured request for the first page and
// proves the answer has what a sync needs: the item array at items_path,
// items carrying item_id_field, and the cursor when cursor_path is set.
func checkHTTPAPI(ctx context.Context, c httpAPIConfig, env Env) Result {
	if c.BaseURL == "" {
		return skipped("fetch first page", "no base_url configured: set base_url to prove the API can be read")
	}
	method := strings.ToUpper(c.HTTPMethod)
	if method == "" {
		method = http.MethodGet
	}
	if method != http.MethodGet && method != http.MethodPost {
		return failStep("fetch first page", "http_method must be GET or POST")
	}
	var body []byte
	if method == http.MethodPost && c.RequestBody != nil {
		var err error
		if body, err = json.Marshal(c.RequestBody); err != nil {
			return failStep("fetch first page", "request_body cannot be encoded as JSON")
		}
	}
	lines := c.ResponseContentType == "jsonl"
	accept := "application/json"
	if lines {
		accept = "application/x-ndjson, application/jsonl, application/json;q=0.5"
	}
	ans, failure := fetchConfigured(ctx, env, configuredRequest{Field: "base_url", URL: c.BaseURL, Query: c.Pagination.firstPage,
		Method: method, JSONBody: body, Accept: accept, Headers: c.Credentials.Headers, UserAgent: c.UserAgent,
		Timeout: c.RequestTimeout, Failed: "the API could not be read"})
	if failure != "" {
		return failStep("fetch first page", failure)
	}
	steps := []Step{{Name: "fetch first page", Status: StepPassed, Message: fmt.Sprintf("%d bytes", len(ans.Body))}}

	notJSON := func(what string) Result {
		msg := "the answer is not " + what
		if mt, _, perr := mime.ParseMediaType(ans.ContentType); perr == nil && mt != "" {
			msg += " (Content-Type " + mt + ")"
		}
		return failStep("find items", msg, steps...)
	}
	var doc any
	var items []any
	dec := json.NewDecoder(bytes.NewReader(ans.Body))
	dec.UseNumber() // ids may be 64-bit integers
	if lines {
		for dec.More() {
			var item any
			if err := dec.Decode(&item); err != nil {
				return notJSON("JSON Lines")
			}
			items = append(items, item)
		}
	} else {
		if err := dec.Decode(&doc); err != nil || dec.More() {
			return notJSON("JSON")
		}
		node, found := lookupPath(doc, c.ItemsPath)
		if !found {
			return failStep("find items", "items_path "+displayPath(c.ItemsPath)+" was not found in the answer", steps...)
		}
		var isArray bool
		if items, isArray = node.([]any); !isArray {
			return failStep("find items", "items_path "+displayPath(c.ItemsPath)+" is not an array in the answer", steps...)
		}
	}
	var msg string
	if len(items) == 0 {
		msg = "the first page has no items yet (the array exists, item_id_field cannot be verified)"
	} else {
		first, isObj := items[0].(map[string]any)
		if !isObj {
			return failStep("find items", "items are not JSON objects", steps...)
		}
		if _, has := first[c.ItemIDField]; !has {
			return failStep("find items", "items have no field "+c.ItemIDField, steps...)
		}
		if f := c.ItemModifiedField; f != "" {
			if _, has := first[f]; !has {
				return failStep("find items", "items have no item_modified_field "+f, steps...)
			}
		}
		msg = fmt.Sprintf("found %d items with field %s", len(items), c.ItemIDField)
	}
	steps = append(steps, Step{Name: "find items", Status: StepPassed, Message: msg})

	if cp := c.Pagination.CursorPath; cp != "" {
		if lines {
			return failStep("find cursor", "a JSON Lines answer has no document to hold pagination cursor_path "+cp, steps...)
		}
		cursor, ok := lookupPath(doc, cp)
		if !ok {
			return failStep("find cursor", "pagination cursor_path "+cp+" was not found in the answer", steps...)
		}
		note := "the answer carries the next cursor"
		if cursor == nil || cursor == "" {
			// Present but empty is how APIs say "last page".
			note = "the cursor is present and empty: this is the only page"
		}
		steps = append(steps, Step{Name: "find cursor", Status: StepPassed, Message: note})
	}
	return Result{Success: true, Message: msg, Steps: steps}
}

// lookupPath follows a dotted path through JSON objects; "" is the root. A
// numeric segment indexes an array (results.0.items).
func lookupPath(doc any, path string) (any, bool) {
	if path == "" {
		return doc, true
	}
	node := doc
	for seg := range strings.SplitSeq(path, ".") {
		switch n := node.(type) {
		case map[string]any:
			v, ok := n[seg]
			if !ok {
				return nil, false
			}
			node = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(n) {
				return nil, false
			}
			node = n[i]
		default:
			return nil, false
		}
	}
	return node, true
}

// displayPath names the root in messages, where "" would read as a typo.
func displayPath(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}
