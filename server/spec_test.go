package server

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// Every schema carries an example, and every example in the spec (schema
// or media type) is valid against its schema, so generated docs and
// clients never show something the server would refuse.
func TestSpecExamplesAreValid(t *testing.T) {
	spec, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Validate(t.Context()); err != nil {
		t.Fatalf("spec does not validate: %v", err)
	}
	for name, ref := range spec.Components.Schemas {
		if ref.Value.Example == nil {
			t.Errorf("schema %s has no example", name)
			continue
		}
		if err := ref.Value.VisitJSON(toJSON(t, ref.Value.Example)); err != nil {
			t.Errorf("example of %s is invalid: %v", name, err)
		}
	}
	check := func(where string, content openapi3.Content) {
		for mt, media := range content {
			if media.Example != nil {
				if err := media.Schema.Value.VisitJSON(toJSON(t, media.Example)); err != nil {
					t.Errorf("%s %s example is invalid: %v", where, mt, err)
				}
			}
			for exName, ex := range media.Examples {
				if err := media.Schema.Value.VisitJSON(toJSON(t, ex.Value.Value)); err != nil {
					t.Errorf("%s %s example %s is invalid: %v", where, mt, exName, err)
				}
			}
		}
	}
	for name, r := range spec.Components.Responses {
		check("response "+name, r.Value.Content)
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody != nil {
				check(method+" "+path+" request", op.RequestBody.Value.Content)
			}
		}
	}
}

// toJSON normalises a parsed YAML value (ints, nested maps) the way a JSON
// body is decoded, so numbers are float64 as the validator expects.
func toJSON(t *testing.T, v any) any {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, vv := range x {
			out[k] = toJSON(t, vv)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, vv := range x {
			out[i] = toJSON(t, vv)
		}
		return out
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	}
	return v
}
