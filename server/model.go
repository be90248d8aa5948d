package server

import (
	"strings"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
	"github.com/oapi-codegen/nullable"
)

// model is the response view of a connection: the stored non-secret config
// with the redaction marker at every stored secret's path. Reads never
// decrypt anything.
func model(c *connvault.Connection) gen.StorageConnectionModel {
	m := gen.StorageConnectionModel{
		ConnectionId:        c.ID,
		InternalId:          c.OrgID,
		ProviderType:        gen.ProviderType(c.ProviderType),
		ProviderConfig:      redactedConfig(c.Config, c.SecretFields),
		Name:                c.Name,
		Description:         nullableOf(c.Description),
		Status:              gen.ConnectionStatus(c.Status),
		IsActive:            c.IsActive(),
		LastUsedAt:          nullableOf(c.LastUsedAt),
		LastCheckedAt:       nullableOf(c.LastCheckedAt),
		LastError:           nullableOf(c.LastError),
		ConsecutiveFailures: c.ConsecutiveFailures,
		StatusReason:        nullableOf(c.StatusReason),
		StatusChangedAt:     nullableOf(c.StatusChangedAt),
		CreatedAt:           c.CreatedAt,
		UpdatedAt:           c.UpdatedAt,
		CreatedByUserId:     c.CreatedByUserID,
		Metadata:            c.Metadata,
		SecretFields:        make([]gen.SecretFieldSummary, 0, len(c.SecretFields)),
	}
	if m.Metadata == nil {
		m.Metadata = gen.Metadata{}
	}
	for _, f := range c.SecretFields {
		m.SecretFields = append(m.SecretFields, gen.SecretFieldSummary{
			Field: f.Field, Set: true, Fingerprint: f.Fingerprint, ChangedAt: f.ChangedAt,
		})
	}
	return m
}

// redactedConfig copies config and puts the marker at each secret's path.
func redactedConfig(config map[string]any, fields []connvault.SecretField) map[string]any {
	out := deepCopy(config)
	for _, f := range fields {
		segs := strings.Split(f.Field, ".")
		node := out
		for _, seg := range segs[:len(segs)-1] {
			child, ok := node[seg].(map[string]any)
			if !ok {
				child = map[string]any{}
				node[seg] = child
			}
			node = child
		}
		node[segs[len(segs)-1]] = connvault.RedactedMarker
	}
	return out
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if mm, ok := v.(map[string]any); ok {
			out[k] = deepCopy(mm)
			continue
		}
		out[k] = v
	}
	return out
}

func nullableOf[T any](p *T) nullable.Nullable[T] {
	if p == nil {
		return nullable.NewNullNullable[T]()
	}
	return nullable.NewNullableWithValue(*p)
}
