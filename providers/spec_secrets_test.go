package providers_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/providers"
	"github.com/getkin/kin-openapi/openapi3"
)

// The spec marks secrets with SecretString or OptionalSecretString (write-only,
// shown redacted); a provider's Secrets list decides what is encrypted and
// redacted. A field marked in one and not the other is either stored in
// plaintext or documented wrongly, so the two must name the same paths.
func TestSpecSecretsAreTheProvidersSecrets(t *testing.T) {
	t.Parallel()
	spec, err := openapi3.NewLoader().LoadFromData(connvault.SpecYAML)
	if err != nil {
		t.Fatal(err)
	}
	create := spec.Components.Schemas["CreateConnectionRequest"].Value
	if create.Discriminator == nil || len(create.Discriminator.Mapping) != 13 {
		t.Fatalf("CreateConnectionRequest maps %v", create.Discriminator)
	}
	for providerType, ref := range create.Discriminator.Mapping {
		member := spec.Components.Schemas[strings.TrimPrefix(ref.Ref, "#/components/schemas/")].Value
		var cfg *openapi3.Schema
		for _, part := range append([]*openapi3.SchemaRef{{Value: member}}, member.AllOf...) {
			if p, ok := part.Value.Properties["provider_config"]; ok {
				cfg = p.Value
			}
		}
		if cfg == nil {
			t.Fatalf("%s: no provider_config in %s", providerType, ref.Ref)
		}
		var marked []string
		secretPaths(cfg, "", map[*openapi3.Schema]bool{}, &marked)
		p, ok := providers.Lookup(providerType)
		if !ok {
			t.Fatalf("no provider %s", providerType)
		}
		declared := slices.Clone(p.Secrets)
		slices.Sort(marked)
		marked = slices.Compact(marked) // a field in two variants is one path
		slices.Sort(declared)
		if !slices.Equal(marked, declared) {
			t.Errorf("%s: the spec marks %v as secret, the provider encrypts %v", providerType, marked, declared)
		}
	}
}

// secretPaths collects the dotted paths of the secret strings under s
// ("*" for the values of a map), through oneOf variants and allOf parts.
func secretPaths(s *openapi3.Schema, at string, seen map[*openapi3.Schema]bool, out *[]string) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	defer delete(seen, s)
	if s.Type.Is("string") && s.WriteOnly {
		*out = append(*out, at)
		return
	}
	for _, sub := range append(append(openapi3.SchemaRefs{}, s.OneOf...), s.AllOf...) {
		secretPaths(sub.Value, at, seen, out)
	}
	join := func(name string) string {
		if at == "" {
			return name
		}
		return at + "." + name
	}
	for name, prop := range s.Properties {
		secretPaths(prop.Value, join(name), seen, out)
	}
	if ap := s.AdditionalProperties.Schema; ap != nil {
		secretPaths(ap.Value, join("*"), seen, out)
	}
}
