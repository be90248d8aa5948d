package connvault

import (
	"encoding/json"
	"time"
)

// Action names what an audit event records.
type Action string

// The actions of the audit trail.
const (
	ActionCreated          Action = "connection.created"
	ActionUpdated          Action = "connection.updated"
	ActionStatusChanged    Action = "connection.status_changed"
	ActionTested           Action = "connection.tested"
	ActionChecked          Action = "connection.checked"
	ActionArchived         Action = "connection.archived"
	ActionCredentialsIssue Action = "credentials.issued"
	ActionUsageReported    Action = "usage.reported"
	ActionKeyCreated       Action = "api_key.created"
	ActionKeyRevoked       Action = "api_key.revoked"
)

// Event is one entry of the audit trail. Details hold field names,
// outcomes and statuses: never a secret's value.
type Event struct {
	ID           string
	OrgID        string
	Action       Action
	OccurredAt   time.Time
	ConnectionID *string
	ActorUserID  *string
	ActorKeyID   *string
	RequestID    *string
	Details      json.RawMessage
}

// DefaultEventRetention is how long events are kept unless configured.
const DefaultEventRetention = 365 * 24 * time.Hour
