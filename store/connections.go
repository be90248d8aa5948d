package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/store/sqlcdb"
	"github.com/jackc/pgx/v5"
)

// NewConnection is what CreateConnection stores.
type NewConnection struct {
	OrgID        string
	UserID       string
	Name         string
	Description  *string
	ProviderType string
	// Config is provider_config sealed for storage (providers.Seal): the
	// stored part is what reads serve as is, never decrypting.
	Config   connvault.SealedConfig
	Metadata map[string]any
	// Health is the new connection's health (connvault.NewHealth).
	Health connvault.Health
	// Created, when set, is the audit event recorded with the connection,
	// in the same statement; its organization and connection are the new
	// connection's.
	Created *NewEvent
}

// CreateConnection stores a new connection and its encrypted secrets in
// one statement. A live connection of the same name in the organization is
// ECONFLICT.
func (s *Store) CreateConnection(ctx context.Context, n NewConnection) (*connvault.Connection, error) {
	now := time.Now().UTC().Truncate(time.Microsecond) // Postgres precision
	secretsJSON, keyID, fields, err := s.sealSecrets(n.Config, nil, now, false)
	if err != nil {
		return nil, err
	}
	h := n.Health
	if h.Status == "" {
		h = connvault.NewHealth(now, false, connvault.DefaultSchedule)
	}
	params := sqlcdb.InsertConnectionParams{
		InternalID:      n.OrgID,
		ConnectionID:    connvault.NewConnectionID(),
		Name:            n.Name,
		Description:     n.Description,
		ProviderType:    n.ProviderType,
		ProviderConfig:  mustJSON(n.Config.Config, "{}"),
		SecretKeyID:     keyID,
		SecretFields:    fields,
		Metadata:        mustJSON(n.Metadata, "{}"),
		CreatedByUserID: n.UserID,
		Status:          string(h.Status),
		StatusReason:    h.StatusReason,
		StatusChangedAt: h.StatusChangedAt,
		LastCheckedAt:   h.LastCheckedAt,
		LastUsedAt:      h.LastUsedAt,
		NextCheckAt:     h.NextCheckAt,
		SecretsJson:     secretsJSON,
		EncryptionKey:   s.currentPassphrase(),
	}
	if e := n.Created; e != nil {
		action := string(e.Action)
		params.EventAction, params.EventDetails = &action, eventDetails(e.Details)
		params.EventActorUserID, params.EventActorKeyID, params.EventRequestID = orNil(e.ActorUserID), orNil(e.ActorKeyID), orNil(e.RequestID)
	}
	row, err := s.q.InsertConnection(ctx, params)
	if err != nil {
		return nil, mapError(err, "connection")
	}
	return fromRow((*sqlcdb.Connection)(row))
}

// GetConnection finds a connection by conn_ id (archived ones included) or
// by name (live ones only). Another organization's connection is ENOTFOUND.
func (s *Store) GetConnection(ctx context.Context, orgID, identifier string) (*connvault.Connection, error) {
	var row *sqlcdb.Connection
	var err error
	if strings.HasPrefix(identifier, "conn_") {
		row, err = s.batched.GetConnectionByID(ctx, sqlcdb.GetConnectionByIDParams{InternalID: orgID, ConnectionID: identifier})
	} else {
		row, err = s.batched.GetConnectionByName(ctx, sqlcdb.GetConnectionByNameParams{InternalID: orgID, Name: identifier})
	}
	if err != nil {
		return nil, mapError(err, "connection")
	}
	return fromRow(row)
}

// Secrets decrypts the connection's secrets: only to run a check or to merge
// a PATCH. A connection without secrets yields nil.
func (s *Store) Secrets(ctx context.Context, c *connvault.Connection) (connvault.Secrets, error) {
	if c.SecretKeyID == nil {
		return nil, nil
	}
	plain, err := s.secretsJSON(ctx, c)
	if err != nil {
		return nil, err
	}
	return decodeSecrets(c, plain.Reveal())
}

// secretsJSON decrypts the connection's secrets as stored (a JSON object;
// "" for a connection without), under whichever key they are.
func (s *Store) secretsJSON(ctx context.Context, c *connvault.Connection) (connvault.Secret, error) {
	if c.SecretKeyID == nil {
		return "", nil
	}
	pass, ok := s.keys.passphrase(*c.SecretKeyID)
	if !ok {
		return "", fmt.Errorf("connection %s: secrets are encrypted under key %s, which this server does not have", c.ID, *c.SecretKeyID)
	}
	plain, err := s.batched.DecryptSecrets(ctx, sqlcdb.DecryptSecretsParams{
		EncryptionKey: pass, InternalID: c.OrgID, ConnectionID: c.ID, SecretKeyID: c.SecretKeyID,
	})
	if err != nil {
		// Never wrap pgcrypto's error text verbatim into anything user-facing.
		return "", fmt.Errorf("decrypt secrets of %s: %w", c.ID, mapError(err, "secrets"))
	}
	return connvault.Secret(plain), nil
}

// decodeSecrets reads c's decrypted secrets.
func decodeSecrets(c *connvault.Connection, plain string) (connvault.Secrets, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(plain), &m); err != nil {
		return nil, fmt.Errorf("decrypt secrets of %s: stored secrets are not a JSON object", c.ID)
	}
	return connvault.SecretsFrom(m), nil
}

// Sealed reads the connection's config as stored, with its secrets
// decrypted: Plain() of it is the full plaintext config a check or a merge
// needs.
func (s *Store) Sealed(ctx context.Context, c *connvault.Connection) (connvault.SealedConfig, error) {
	config, err := c.ConfigMap()
	if err != nil {
		return connvault.SealedConfig{}, err
	}
	secrets, err := s.Secrets(ctx, c)
	if err != nil {
		return connvault.SealedConfig{}, err
	}
	return connvault.SealedConfig{Config: config, Secrets: secrets}, nil
}

// ConfigChange replaces a connection's provider_config, sealed for storage
// (providers.Seal); empty Secrets remove them all.
type ConfigChange struct {
	Config connvault.SealedConfig
	// SameValues says the secret values did not change (key rotation), so
	// each field keeps its changed_at.
	SameValues bool
}

// UpdateConnection writes c (name, description, metadata, health) and, when
// change is non-nil, its new config and secrets, if nobody wrote since
// c.Version was read; otherwise it returns ErrStale and writes nothing.
// New secret values also drop the tokens issued from the old ones. events,
// the change's audit trail (one actor's, on c), are written by the same
// statement: with the change or not at all.
func (s *Store) UpdateConnection(ctx context.Context, c *connvault.Connection, change *ConfigChange, events ...NewEvent) (*connvault.Connection, error) {
	now := time.Now().UTC().Truncate(time.Microsecond) // Postgres precision
	metadata := []byte(c.Metadata)
	if len(metadata) == 0 {
		metadata = []byte("{}")
	}
	p := sqlcdb.UpdateConnectionParams{
		Name:                c.Name,
		Description:         c.Description,
		Metadata:            metadata,
		ProviderConfig:      c.Config,
		EncryptionKey:       s.currentPassphrase(),
		SecretKeyID:         c.SecretKeyID,
		SecretFields:        orEmptyArray(c.SecretFields),
		Status:              string(c.Status),
		StatusReason:        c.StatusReason,
		StatusChangedAt:     c.StatusChangedAt,
		ConsecutiveFailures: int32(c.ConsecutiveFailures),
		LastError:           c.LastError,
		LastCheckedAt:       c.LastCheckedAt,
		LastUsedAt:          c.LastUsedAt,
		NextCheckAt:         c.NextCheckAt,
		InternalID:          c.OrgID,
		ConnectionID:        c.ID,
		Version:             c.Version,
	}
	if err := auditWith(&p, c, events); err != nil {
		return nil, err
	}
	if change != nil {
		var err error
		p.ReplaceSecrets = true
		p.ForgetIssued = !change.SameValues
		previous, err := c.SecretFieldList()
		if err != nil {
			return nil, fmt.Errorf("connection %s: secret_fields: %w", c.ID, err)
		}
		p.SecretsJson, p.SecretKeyID, p.SecretFields, err = s.sealSecrets(change.Config, previous, now, change.SameValues)
		if err != nil {
			return nil, err
		}
		p.ProviderConfig = mustJSON(change.Config.Config, "{}")
	}
	row, err := s.q.UpdateConnection(ctx, p)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrStale
	}
	if err != nil {
		return nil, mapError(err, "connection")
	}
	return fromRow((*sqlcdb.Connection)(row))
}

// auditWith puts events in the update's parameters. The statement records
// them on c with one actor, so they must all be c's and that actor's.
func auditWith(p *sqlcdb.UpdateConnectionParams, c *connvault.Connection, events []NewEvent) error {
	p.EventActions, p.EventDetails = make([]string, 0, len(events)), make([]string, 0, len(events))
	for i, e := range events {
		if e.OrgID != c.OrgID || e.ConnectionID != c.ID {
			return fmt.Errorf("connection %s: an audit event of another connection (%s)", c.ID, e.ConnectionID)
		}
		if e.ActorUserID != events[0].ActorUserID || e.ActorKeyID != events[0].ActorKeyID || e.RequestID != events[0].RequestID {
			return fmt.Errorf("connection %s: audit event %d has another actor", c.ID, i)
		}
		p.EventActions = append(p.EventActions, string(e.Action))
		p.EventDetails = append(p.EventDetails, string(eventDetails(e.Details)))
	}
	if len(events) > 0 {
		p.EventActorUserID, p.EventActorKeyID, p.EventRequestID = orNil(events[0].ActorUserID), orNil(events[0].ActorKeyID), orNil(events[0].RequestID)
	}
	return nil
}

// ErrStale reports that a connection changed between read and write; the
// client gets a 409 and may retry.
var ErrStale = connvault.Errorf(connvault.ESTATE, "the connection was changed by another request; retry")

// ArchiveConnection moves c to ARCHIVED and drops its secrets, recording
// archived, if given, in the same transaction with the status it was
// archived from (details "from"): read under the row's lock, so a change
// that moved the connection since c was read is in the trail before it. An
// archived connection is returned unchanged and records nothing, also when
// another request archived it since c was read.
func (s *Store) ArchiveConnection(ctx context.Context, c *connvault.Connection, archived *NewEvent) (*connvault.Connection, error) {
	h, already := c.Health.Archive(time.Now().UTC())
	if already {
		return c, nil
	}
	orgID := c.OrgID
	var row *sqlcdb.Connection
	err := s.inTx(ctx, func(q *sqlcdb.Queries) error {
		from, err := q.LockConnectionStatus(ctx, sqlcdb.LockConnectionStatusParams{InternalID: orgID, ConnectionID: c.ID})
		if err != nil {
			return err
		}
		row, err = q.ArchiveConnection(ctx, sqlcdb.ArchiveConnectionParams{
			InternalID: orgID, ConnectionID: c.ID,
			Status: string(h.Status), StatusReason: h.StatusReason, StatusChangedAt: h.StatusChangedAt,
		})
		if err != nil {
			return err
		}
		if err := q.DeleteSecrets(ctx, sqlcdb.DeleteSecretsParams{InternalID: orgID, ConnectionID: c.ID}); err != nil {
			return err
		}
		if err := q.ReleaseLease(ctx, sqlcdb.ReleaseLeaseParams{InternalID: orgID, ConnectionID: c.ID}); err != nil {
			return err
		}
		if archived == nil {
			return nil
		}
		return insertEvents(ctx, q, []NewEvent{archived.with(map[string]any{"from": from})})
	})
	if errors.Is(err, pgx.ErrNoRows) {
		// Archived concurrently: answer with what is stored now.
		return s.GetConnection(ctx, orgID, c.ID)
	}
	if err != nil {
		return nil, err
	}
	return fromRow(row)
}

// ErrLeaseLost reports that a health check finished after its lease went
// to another checker, which will record its own outcome.
var ErrLeaseLost = errors.New("health check lease lost to another checker")

// RecordCheck applies the outcome of a check of checked (the connection as
// the check read it) to its health under a row lock, so concurrent checks
// cannot lose an increment. message must be scrubbed of secrets already.
// An archived connection is ESTATE. A background check passes its
// leaseOwner and gets ErrLeaseLost if another checker took the row over; a
// manual test passes "". A config or credentials changed since checked
// was read are not what was checked: ErrCheckedConfigChanged, and nothing
// is recorded.
func (s *Store) RecordCheck(ctx context.Context, checked *connvault.Connection, ok bool, message string, sched connvault.Schedule, leaseOwner string, audit HealthAudit) (*connvault.Connection, error) {
	return s.recordHealth(ctx, checked.OrgID, checked.ID, leaseOwner, checked, func(h connvault.Health, now time.Time) connvault.Health {
		return h.AfterCheck(ok, message, now, sched)
	}, audit)
}

// ErrCheckedConfigChanged reports a check outcome not recorded: the
// connection's config or credentials changed while it was checked.
var ErrCheckedConfigChanged = connvault.Errorf(connvault.ESTATE,
	"the connection's config or credentials were changed while it was being checked; test it again")

// RecordUsage applies what a sync worker reported (connvault.Health.AfterUse)
// under the same row lock as a check outcome.
func (s *Store) RecordUsage(ctx context.Context, orgID, connID string, ok bool, message string, sched connvault.Schedule, audit HealthAudit) (*connvault.Connection, error) {
	return s.recordHealth(ctx, orgID, connID, "", nil, func(h connvault.Health, now time.Time) connvault.Health {
		return h.AfterUse(ok, message, now, sched)
	}, audit)
}

// HealthAudit is what a health outcome records in its transaction: Events
// (the test, check or usage report it is) and, when it changes the status,
// the status_changed event, by Actor (its ActorUserID, ActorKeyID and
// RequestID; none for connvault itself).
type HealthAudit struct {
	Actor  NewEvent
	Events []NewEvent
}

// StatusChanged is the audit event, by actor, of a connection's move from
// before's status to after's; nil when the status stays.
func StatusChanged(actor NewEvent, before, after *connvault.Connection) *NewEvent {
	if before.Status == after.Status {
		return nil
	}
	details := map[string]any{"from": before.Status, "to": after.Status}
	if after.StatusReason != nil {
		details["reason"] = *after.StatusReason
	}
	e := actor
	e.OrgID, e.Action, e.ConnectionID, e.Details = after.OrgID, connvault.ActionStatusChanged, after.ID, details
	return &e
}

func (s *Store) recordHealth(ctx context.Context, orgID, connID, leaseOwner string, checked *connvault.Connection, rule func(connvault.Health, time.Time) connvault.Health, audit HealthAudit) (*connvault.Connection, error) {
	var out *connvault.Connection
	err := s.inTx(ctx, func(q *sqlcdb.Queries) error {
		row, err := q.LockConnection(ctx, sqlcdb.LockConnectionParams{InternalID: orgID, ConnectionID: connID})
		if err != nil {
			return mapError(err, "connection")
		}
		if leaseOwner != "" {
			owner, err := q.LeaseOwner(ctx, sqlcdb.LeaseOwnerParams{InternalID: orgID, ConnectionID: connID})
			if errors.Is(err, pgx.ErrNoRows) || (err == nil && owner != leaseOwner) {
				return ErrLeaseLost
			}
			if err != nil {
				return mapError(err, "connection")
			}
		}
		c, err := fromRow(row)
		if err != nil {
			return err
		}
		if err := c.Mutable(); err != nil {
			return err
		}
		if checked != nil && (!bytes.Equal(c.Config, checked.Config) || !bytes.Equal(orEmptyArray(c.SecretFields), orEmptyArray(checked.SecretFields))) {
			return ErrCheckedConfigChanged
		}
		h := rule(c.Health, time.Now().UTC())
		saved, err := q.SaveConnectionHealth(ctx, sqlcdb.SaveConnectionHealthParams{
			Status:              string(h.Status),
			StatusReason:        h.StatusReason,
			StatusChangedAt:     h.StatusChangedAt,
			ConsecutiveFailures: int32(h.ConsecutiveFailures),
			LastError:           h.LastError,
			LastCheckedAt:       h.LastCheckedAt,
			LastUsedAt:          h.LastUsedAt,
			NextCheckAt:         h.NextCheckAt,
			InternalID:          orgID,
			ConnectionID:        connID,
		})
		if err != nil {
			return mapError(err, "connection")
		}
		// A check's outcome ends any lease: the background checker's own,
		// or a manual test's, which makes a running background check's
		// late. A usage report is no check: a check under way still ends
		// its own lease with its outcome.
		if checked != nil {
			if err := q.ReleaseLease(ctx, sqlcdb.ReleaseLeaseParams{InternalID: orgID, ConnectionID: connID}); err != nil {
				return mapError(err, "connection")
			}
		}
		if out, err = fromRow(saved); err != nil {
			return err
		}
		events := audit.Events
		if e := StatusChanged(audit.Actor, c, out); e != nil {
			events = append(events[:len(events):len(events)], *e)
		}
		return insertEvents(ctx, q, events)
	})
	return out, err
}

// ClaimDue leases up to batch ACTIVE connections due by dueBy to owner for
// lease.
func (s *Store) ClaimDue(ctx context.Context, owner string, lease time.Duration, batch int, dueBy time.Time) ([]*connvault.Connection, error) {
	rows, err := s.q.ClaimDueConnections(ctx, sqlcdb.ClaimDueConnectionsParams{
		LeaseOwner: owner, LeaseSeconds: lease.Seconds(), Batch: int32(batch), DueBy: dueBy,
	})
	if err != nil {
		return nil, mapError(err, "connections")
	}
	out := make([]*connvault.Connection, 0, len(rows))
	for _, r := range rows {
		c, err := fromRow(&r.Connection)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ListFilter selects and pages connections of one organization.
type ListFilter struct {
	OrgID        string
	ProviderType *string
	// Status nil hides archived connections; "ARCHIVED" lists only them.
	Status   *string
	IsActive *bool
	Search   *string
	Limit    int
	Offset   int
	After    *Cursor
}

// Cursor is a keyset position: the last row of the previous page.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// Encode makes the cursor opaque to clients.
func (c Cursor) Encode() string {
	b := make([]byte, 8, 8+len(c.ID))
	binary.BigEndian.PutUint64(b, uint64(c.CreatedAt.UnixMicro()))
	return base64.RawURLEncoding.EncodeToString(append(b, c.ID...))
}

// DecodeCursor parses a cursor made by Encode.
func DecodeCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 9 || !connvault.ValidConnectionID(string(b[8:])) {
		return Cursor{}, connvault.Errorf(connvault.EINVALID, "cursor is not one this server issued")
	}
	micros := int64(binary.BigEndian.Uint64(b[:8]))
	// Rows are created at now(): a time before 1970 or after 9999 is no
	// row's, and one before 4713 BC Postgres cannot even compare (a 500).
	if micros < 0 || micros > maxCursorMicros {
		return Cursor{}, connvault.Errorf(connvault.EINVALID, "cursor is not one this server issued")
	}
	return Cursor{CreatedAt: time.UnixMicro(micros).UTC(), ID: string(b[8:])}, nil
}

// maxCursorMicros is 9999-12-31T23:59:59.999999Z in Unix microseconds.
var maxCursorMicros = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()

// ListResult is one page.
type ListResult struct {
	Connections []*connvault.Connection
	// Total counts every connection the filter matches, not only this page.
	Total int
	// Next is the cursor of the following page, nil on the last page.
	Next *Cursor
}

// ListConnections returns one page, newest first.
func (s *Store) ListConnections(ctx context.Context, f ListFilter) (*ListResult, error) {
	p := sqlcdb.ListConnectionsParams{
		InternalID:   f.OrgID,
		Status:       f.Status,
		ProviderType: f.ProviderType,
		IsActive:     f.IsActive,
		Search:       likePattern(f.Search),
		RowLimit:     int32(f.Limit) + 1, // one extra row tells whether a next page exists
		RowOffset:    int32(f.Offset),
	}
	if f.After != nil {
		p.AfterCreatedAt, p.AfterConnectionID, p.RowOffset = &f.After.CreatedAt, &f.After.ID, 0
	}
	rows, err := s.q.ListConnections(ctx, p)
	if err != nil {
		return nil, mapError(err, "connections")
	}
	res := &ListResult{Connections: make([]*connvault.Connection, 0, min(len(rows), f.Limit))}
	for i, r := range rows {
		if i == f.Limit {
			last := res.Connections[len(res.Connections)-1]
			res.Next = &Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
			break
		}
		c, err := fromRow(&r.Connection)
		if err != nil {
			return nil, err
		}
		res.Connections = append(res.Connections, c)
	}
	// The last page by offset shows the total itself (what came before it
	// plus what is on it). A full page and a cursor page (whose offset is
	// unknown) take it from the counters their rows carry; a page past the
	// end has no rows and asks for the first page's first row. A name
	// search narrows the list below what the counters count: COUNT it.
	switch {
	case f.After == nil && res.Next == nil && (len(res.Connections) > 0 || f.Offset == 0):
		res.Total = f.Offset + len(res.Connections)
	case p.Search != nil:
		n, err := s.q.CountConnections(ctx, sqlcdb.CountConnectionsParams{
			InternalID: f.OrgID, Status: f.Status, ProviderType: f.ProviderType, IsActive: f.IsActive, Search: p.Search,
		})
		if err != nil {
			return nil, mapError(err, "connections")
		}
		res.Total = int(n)
	case len(rows) > 0:
		res.Total = int(rows[0].CountedTotal)
	default:
		first, err := s.q.ListConnections(ctx, sqlcdb.ListConnectionsParams{
			InternalID: f.OrgID, Status: f.Status, ProviderType: f.ProviderType, IsActive: f.IsActive, RowLimit: 1,
		})
		if err != nil {
			return nil, mapError(err, "connections")
		}
		if len(first) > 0 {
			res.Total = int(first[0].CountedTotal)
		}
	}
	return res, nil
}

// likePattern escapes LIKE wildcards so a search is a plain substring.
func likePattern(search *string) *string {
	if search == nil || *search == "" {
		return nil
	}
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(*search)
	return &r
}

// sealSecrets prepares secrets for the encryption query: their plaintext
// JSON, the key id and the fingerprint summary. A field whose value did not
// change keeps its previous changed_at. A config whose stored part lacks
// the marker at a secret's path is refused: reads serve the stored part as
// is, so the marker is what tells a client a secret is kept there.
func (s *Store) sealSecrets(sealed connvault.SealedConfig, previous []connvault.SecretField, now time.Time, sameValues bool) (*string, *string, json.RawMessage, error) {
	if path := sealed.UnmarkedSecret(); path != "" {
		return nil, nil, nil, fmt.Errorf("store: the secret at %s has no redaction marker in the stored config (seal configs with providers.Seal)", path)
	}
	secrets := sealed.Secrets
	if secrets.Empty() {
		return nil, nil, json.RawMessage("[]"), nil
	}
	plain := secrets.Plain()
	b, err := json.Marshal(plain)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode secrets: %w", err)
	}
	prev := make(map[string]connvault.SecretField, len(previous))
	for _, f := range previous {
		prev[f.Field] = f
	}
	var fields []connvault.SecretField
	for path, value := range flattenStrings(plain, "") {
		fp := s.Fingerprint(value)
		changed := now
		if p, ok := prev[path]; ok && (p.Fingerprint == fp || sameValues) {
			changed = p.ChangedAt
		}
		fields = append(fields, connvault.SecretField{Field: path, Set: true, Fingerprint: fp, ChangedAt: changed})
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
	str, id := string(b), s.keys.CurrentID
	return &str, &id, mustJSON(fields, "[]"), nil
}

// Fingerprint is an HMAC of a secret value under a key derived from the
// server key: a client can compare its copy without the value being shown.
func (s *Store) Fingerprint(value string) string {
	m := hmac.New(sha256.New, s.keys.FingerprintKey())
	m.Write([]byte(value))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))[:16]
}

func (s *Store) currentPassphrase() string {
	p, _ := s.keys.passphrase(s.keys.CurrentID)
	return p
}

// flattenStrings maps dotted paths to the string leaves of m.
func flattenStrings(m map[string]any, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		switch vv := v.(type) {
		case map[string]any:
			for p, s := range flattenStrings(vv, prefix+k+".") {
				out[p] = s
			}
		case string:
			out[prefix+k] = vv
		}
	}
	return out
}

// fromRow is the one conversion from the stored row to the domain type.
func fromRow(r *sqlcdb.Connection) (*connvault.Connection, error) {
	c := &connvault.Connection{
		OrgID:        r.InternalID,
		ID:           r.ConnectionID,
		Name:         r.Name,
		Description:  r.Description,
		ProviderType: r.ProviderType,
		SecretKeyID:  r.SecretKeyID,
		Health: connvault.Health{
			Status:              connvault.Status(r.Status),
			StatusReason:        r.StatusReason,
			StatusChangedAt:     utcPtr(r.StatusChangedAt),
			ConsecutiveFailures: int(r.ConsecutiveFailures),
			LastError:           r.LastError,
			LastUsedAt:          utcPtr(r.LastUsedAt),
			LastCheckedAt:       utcPtr(r.LastCheckedAt),
			NextCheckAt:         utcPtr(r.NextCheckAt),
		},
		CreatedByUserID: r.CreatedByUserID,
		CreatedAt:       r.CreatedAt.UTC(),
		UpdatedAt:       r.UpdatedAt.UTC(),
		Version:         r.Version,
	}
	// provider_config and metadata stay JSON: reads serve them as stored.
	c.Config, c.Metadata = r.ProviderConfig, r.Metadata
	// Served as stored too; decoded only where a write needs it.
	c.SecretFields = r.SecretFields
	return c, nil
}

// utcPtr puts a scanned time in UTC in place: the row owns it, and a copy
// would cost an allocation per time per row.
func utcPtr(t *time.Time) *time.Time {
	if t != nil {
		*t = t.UTC()
	}
	return t
}

// mustJSON encodes values built from decoded JSON, which cannot fail; nil
// becomes def.
func mustJSON(v any, def string) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return json.RawMessage(def)
	}
	return b
}

func orEmptyArray(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("[]")
	}
	return raw
}
