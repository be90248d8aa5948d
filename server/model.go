package server

import (
	"encoding/json"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
)

// model is the response view of a connection. provider_config is served
// as stored: the store keeps it with the redaction marker at every stored
// secret's path, so reads neither decrypt nor re-encode it.
func model(c *connvault.Connection) gen.StorageConnectionModel {
	m := gen.StorageConnectionModel{
		ConnectionId:        c.ID,
		InternalId:          c.OrgID,
		ProviderType:        gen.ProviderType(c.ProviderType),
		ProviderConfig:      c.Config,
		Name:                c.Name,
		Description:         c.Description,
		Status:              gen.ConnectionStatus(c.Status),
		IsActive:            c.IsActive(),
		LastUsedAt:          c.LastUsedAt,
		LastCheckedAt:       c.LastCheckedAt,
		LastError:           c.LastError,
		ConsecutiveFailures: c.ConsecutiveFailures,
		StatusReason:        c.StatusReason,
		StatusChangedAt:     c.StatusChangedAt,
		CreatedAt:           c.CreatedAt,
		UpdatedAt:           c.UpdatedAt,
		CreatedByUserId:     c.CreatedByUserID,
		Metadata:            c.Metadata,
		SecretFields:        make([]gen.SecretFieldSummary, 0, len(c.SecretFields)),
	}
	if len(m.Metadata) == 0 {
		m.Metadata = json.RawMessage("{}")
	}
	for _, f := range c.SecretFields {
		m.SecretFields = append(m.SecretFields, gen.SecretFieldSummary{
			Field: f.Field, Set: true, Fingerprint: f.Fingerprint, ChangedAt: f.ChangedAt,
		})
	}
	return m
}
