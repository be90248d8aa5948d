package connvault

import (
	"encoding/json"
	"time"
)

// Connection is a stored storage connection as the rest of the code sees it.
// It never holds secret values: Config is the non-secret part and
// SecretFields describes which secrets are stored.
type Connection struct {
	OrgID        string
	ID           string
	Name         string
	Description  *string
	ProviderType string
	// Config is provider_config as stored and as clients read it: the
	// non-secret fields, with RedactedMarker at each stored secret's path.
	// Reads serve it as is; ConfigMap decodes it for the write paths.
	Config json.RawMessage
	// SecretFields is the summary of the stored secrets as stored and as
	// clients read it: a JSON array of SecretField. Reads serve it as is;
	// SecretFieldList decodes it for the write paths.
	SecretFields json.RawMessage
	// SecretKeyID names the server key the secrets are encrypted under; nil
	// when the connection stores no secret.
	SecretKeyID *string
	Health
	// Metadata is the user's tags as JSON (an object).
	Metadata        json.RawMessage
	CreatedByUserID string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// Version increases with every write (optimistic concurrency).
	Version int64
}

// ConfigMap decodes Config, markers included.
func (c *Connection) ConfigMap() (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(c.Config, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// SecretField describes one stored secret without its value, in the shape
// clients read (Set is always true: only stored secrets are listed).
type SecretField struct {
	Field       string    `json:"field"`
	Set         bool      `json:"set"`
	Fingerprint string    `json:"fingerprint"`
	ChangedAt   time.Time `json:"changed_at"`
}

// SecretFieldList decodes SecretFields.
func (c *Connection) SecretFieldList() ([]SecretField, error) {
	if len(c.SecretFields) == 0 {
		return nil, nil
	}
	var out []SecretField
	if err := json.Unmarshal(c.SecretFields, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Secrets is the secret part of a provider_config: nested maps in the
// config's shape whose leaves are Secret, so printing it shows only markers.
type Secrets map[string]any

// SecretsFrom wraps every string leaf of plain in Secret.
func SecretsFrom(plain map[string]any) Secrets {
	if plain == nil {
		return nil
	}
	return Secrets(mapLeaves(plain, func(v any) any {
		if s, ok := v.(string); ok {
			return Secret(s)
		}
		return v
	}))
}

// Plain returns the secrets with their values revealed, for the provider
// check and the encryption query only.
func (s Secrets) Plain() map[string]any {
	if s == nil {
		return nil
	}
	return mapLeaves(s, func(v any) any {
		if sec, ok := v.(Secret); ok {
			return sec.Reveal()
		}
		return v
	})
}

// MarshalJSON shows the shape with every value redacted.
func (s Secrets) MarshalJSON() ([]byte, error) {
	return json.Marshal(mapLeaves(s, func(any) any { return RedactedMarker }))
}

// Empty reports whether no secret is held.
func (s Secrets) Empty() bool { return len(s) == 0 }

func mapLeaves(m map[string]any, f func(any) any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch vv := v.(type) {
		case map[string]any:
			out[k] = mapLeaves(vv, f)
		case Secrets:
			out[k] = mapLeaves(vv, f)
		default:
			out[k] = f(v)
		}
	}
	return out
}

// SealedConfig is a provider_config split for storage: Config is what is
// stored in the clear and read back, with RedactedMarker at each secret's
// path; Secrets holds the values, encrypted at rest. providers.Seal makes
// one from a full config; the store refuses one whose secrets lack their
// markers, so a secret cannot be stored without its place being marked.
type SealedConfig struct {
	Config  map[string]any
	Secrets Secrets
}

// Plain returns the full plaintext config: Config with each marker replaced
// by its secret. Only for a provider check or a merge; never stored, never
// shown.
func (s SealedConfig) Plain() map[string]any {
	out := mapLeaves(s.Config, func(v any) any { return v }) // a deep copy
	var merge func(dst map[string]any, src Secrets)
	merge = func(dst map[string]any, src Secrets) {
		for k, v := range src {
			switch vv := v.(type) {
			case map[string]any:
				dm, ok := dst[k].(map[string]any)
				if !ok {
					dm = map[string]any{}
					dst[k] = dm
				}
				merge(dm, Secrets(vv))
			case Secret:
				dst[k] = vv.Reveal()
			default:
				dst[k] = vv
			}
		}
	}
	merge(out, s.Secrets)
	return out
}

// UnmarkedSecret returns the dotted path of a secret whose place in Config
// does not hold RedactedMarker; "" when every secret is marked.
func (s SealedConfig) UnmarkedSecret() string {
	var find func(cfg map[string]any, secrets map[string]any, prefix string) string
	find = func(cfg map[string]any, secrets map[string]any, prefix string) string {
		for k, v := range secrets {
			if inner, ok := v.(map[string]any); ok {
				sub, _ := cfg[k].(map[string]any)
				if p := find(sub, inner, prefix+k+"."); p != "" {
					return p
				}
				continue
			}
			if cfg[k] != RedactedMarker {
				return prefix + k
			}
		}
		return ""
	}
	return find(s.Config, s.Secrets, "")
}
