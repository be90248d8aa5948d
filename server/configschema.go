package server

import (
	"fmt"
	"maps"

	"github.com/connvault/connvault"
	"github.com/getkin/kin-openapi/openapi3"
)

// configSchemas maps each provider_type to its provider_config schema,
// read from the spec's create-request discriminator, so a PATCHed config is
// checked against exactly the rules a create is.
type configSchemas struct {
	byType map[string]*openapi3.Schema
	// credentialKinds are each provider's kinds of credentials: the spec
	// lets clients leave `type` out, since the kinds' fields tell them apart.
	credentialKinds map[string][]credentialKind
}

// credentialKind is one variant of a provider's credentials.
type credentialKind struct {
	typ    string
	schema *openapi3.Schema
}

func newConfigSchemas(spec *openapi3.T) (*configSchemas, error) {
	create, ok := spec.Components.Schemas["CreateConnectionRequest"]
	if !ok || create.Value.Discriminator == nil {
		return nil, fmt.Errorf("spec: CreateConnectionRequest has no discriminator")
	}
	out := &configSchemas{byType: map[string]*openapi3.Schema{}, credentialKinds: map[string][]credentialKind{}}
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
			if creds, ok := cfg.Value.Properties["credentials"]; ok {
				variants := creds.Value.OneOf
				if len(variants) == 0 {
					variants = openapi3.SchemaRefs{creds}
				}
				for _, v := range variants {
					typ, ok := v.Value.Properties["type"]
					if !ok || len(typ.Value.Enum) != 1 {
						return nil, fmt.Errorf("spec: %s credentials %s: type is not one value", providerType, v.Ref)
					}
					kind, _ := typ.Value.Enum[0].(string)
					out.credentialKinds[providerType] = append(out.credentialKinds[providerType], credentialKind{kind, v.Value})
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

// withCredentialsType fills in the credentials `type` a client left out,
// so the stored config always says which kind it holds: the one kind whose
// rules the credentials meet (the validator has let through only those
// that meet exactly one).
func (cs *configSchemas) withCredentialsType(providerType string, cfg map[string]any) map[string]any {
	creds, ok := cfg["credentials"].(map[string]any)
	if !ok {
		return cfg
	}
	if _, set := creds["type"]; set {
		return cfg
	}
	filled := maps.Clone(creds)
	for _, kind := range cs.credentialKinds[providerType] {
		filled["type"] = kind.typ
		if kind.schema.VisitJSON(filled, openapi3.VisitAsRequest(), openapi3.DisableSchemaErrorDetails()) != nil {
			continue
		}
		out := maps.Clone(cfg)
		out["credentials"] = filled
		return out
	}
	return cfg
}
