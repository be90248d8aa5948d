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
	// onlyCredentialsType is the credentials `type` of providers that have
	// one kind of credentials, where the spec lets clients leave it out.
	onlyCredentialsType map[string]string
}

func newConfigSchemas(spec *openapi3.T) (*configSchemas, error) {
	create, ok := spec.Components.Schemas["CreateConnectionRequest"]
	if !ok || create.Value.Discriminator == nil {
		return nil, fmt.Errorf("spec: CreateConnectionRequest has no discriminator")
	}
	out := &configSchemas{byType: map[string]*openapi3.Schema{}, onlyCredentialsType: map[string]string{}}
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
			if creds, ok := cfg.Value.Properties["credentials"]; ok && len(creds.Value.OneOf) == 0 {
				if typ, ok := creds.Value.Properties["type"]; ok && len(typ.Value.Enum) == 1 {
					out.onlyCredentialsType[providerType], _ = typ.Value.Enum[0].(string)
				}
			}
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

// withCredentialsType fills in the credentials `type` a client left out
// where the provider has one kind, so the stored config always says which.
func (cs *configSchemas) withCredentialsType(providerType string, cfg map[string]any) map[string]any {
	typ := cs.onlyCredentialsType[providerType]
	creds, ok := cfg["credentials"].(map[string]any)
	if typ == "" || !ok {
		return cfg
	}
	if _, set := creds["type"]; set {
		return cfg
	}
	filled := make(map[string]any, len(creds)+1)
	for k, v := range creds {
		filled[k] = v
	}
	filled["type"] = typ
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		out[k] = v
	}
	out["credentials"] = filled
	return out
}
