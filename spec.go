package connvault

import _ "embed"

// SpecYAML is openapi.yaml as written, served at /openapi.yaml.
//
//go:embed openapi.yaml
var SpecYAML []byte
