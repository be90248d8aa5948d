package server

import (
	"fmt"

	"github.com/connvault/connvault"
	"github.com/getkin/kin-openapi/openapi3"
)

// configSchemas maps each provider_type to its provider_config schema,
// read from the spec's create-request discriminator, so a PATCHed config is
// checked against exactly the rules a create is.
type configSchemas struct {
	byType map[string]*openapi3.Schema
}

func newConfigSchemas(spec *openapi3.T) (*configSchemas, error) {
	create, ok := spec.Components.Schemas["CreateConnectionRequest"]
	if !ok || create.Value.Discriminator == nil {
		return nil, fmt.Errorf("spec: CreateConnectionRequest has no discriminator")
	}
	out := &configSchemas{byType: map[string]*openapi3.Schema{}}
	for _, member := range create.Value.OneOf {
		for providerType, ref := range create.Value.Discriminator.Mapping {
			if ref.Ref != member.Ref {
				continue
			}
			cfg, ok := member.Value.Properties["provider_config"]
			if !ok {
				return nil, fmt.Errorf("spec: %s has no provider_config", member.Ref)
			}
			out.byType[providerType] = cfg.Value
		}
	}
	return out, nil
}

// validate checks a whole provider_config for providerType. Errors are
// located under body.provider_config and never quote values.
func (cs *configSchemas) validate(providerType string, cfg map[string]any) error {
	schema, ok := cs.byType[providerType]
	if !ok {
		return connvault.Errorf(connvault.EINVALID, "unknown provider_type")
	}
	err := schema.VisitJSON(cfg, openapi3.MultiErrors(), openapi3.VisitAsRequest(), openapi3.DisableSchemaErrorDetails())
	if err == nil {
		return nil
	}
	return invalidFields(schemaFields(err, []string{"body", "provider_config"}))
}
