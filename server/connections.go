package server

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/store"
)

// createInput is the provider-independent view of a validated create body.
// The validator has already enforced the provider's exact schema.
type createInput struct {
	Name           string         `json:"name"`
	ProviderType   string         `json:"provider_type"`
	ProviderConfig map[string]any `json:"provider_config"`
	Description    *string        `json:"description"`
	Metadata       map[string]any `json:"metadata"`
	TestBeforeSave *bool          `json:"test_before_save"`
}

func lookupProvider(providerType string) (*providers.Provider, error) {
	p, ok := providers.Lookup(providerType)
	if !ok {
		return nil, connvault.Invalid([]string{"body", "provider_type"}, "provider_type is not supported by this server")
	}
	return p, nil
}

// plainConfig returns c's provider and its full plaintext config (stored
// config with the secrets decrypted), for a check or a merge.
func (s *Server) plainConfig(ctx context.Context, c *connvault.Connection) (*providers.Provider, providers.Config, error) {
	p, err := lookupProvider(c.ProviderType)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := s.store.Sealed(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	return p, sealed.Plain(), nil
}

// CreateConnection implements POST /v1/organizations/connections.
func (s *Server) CreateConnection(ctx context.Context, req gen.CreateConnectionRequestObject) (gen.CreateConnectionResponseObject, error) {
	who := principal(ctx)
	raw, err := req.Body.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var in createInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	key := req.Params.IdempotencyKey
	if key == nil {
		c, err := s.create(ctx, who, in)
		if err != nil {
			return nil, err
		}
		return encodeConnection(c), nil
	}
	idem, err := s.store.ClaimIdempotencyKey(ctx, who.OrgID, *key, raw)
	if err != nil {
		return nil, err
	}
	if idem.Replay != nil {
		return connectionAnswer(idem.Replay), nil
	}
	c, err := s.create(ctx, who, in)
	if err != nil {
		idem.Release()
		return nil, err
	}
	answer := encodeConnection(c)
	if err := idem.Complete(answer); err != nil {
		// The connection exists; only a retry with this key would create
		// another. Say so in the log rather than fail the create.
		s.log.ErrorContext(ctx, "idempotency answer not stored", "connection_id", c.ID, "error", err.Error())
	}
	return answer, nil
}

// create checks (unless told not to) and stores a new connection.
func (s *Server) create(ctx context.Context, who store.Principal, in createInput) (*connvault.Connection, error) {
	p, err := lookupProvider(in.ProviderType)
	if err != nil {
		return nil, err
	}
	// Merged onto nothing: the one rule for secrets sent as the redaction
	// marker refuses them here too (there is no stored value to keep).
	config, err := providers.Merge(p, nil, s.schemas.withCredentialsType(in.ProviderType, withoutProviderType(in.ProviderConfig)))
	if err != nil {
		return nil, connvault.Under(err, "body", "provider_config")
	}
	tested := in.TestBeforeSave == nil || *in.TestBeforeSave
	if tested {
		out := s.runCheck(ctx, p, config)
		if !out.Success {
			return nil, out.refusal()
		}
		if out.Rotated != nil {
			config = out.Rotated // the check spent the refresh token given
		}
	}
	c, err := s.store.CreateConnection(ctx, store.NewConnection{
		OrgID:        who.OrgID,
		UserID:       who.UserID,
		Name:         in.Name,
		Description:  in.Description,
		ProviderType: in.ProviderType,
		Config:       providers.Seal(p, config),
		Metadata:     in.Metadata,
		// A check that passed before saving is recorded with the row.
		Health:  connvault.NewHealth(time.Now().UTC(), tested, s.cfg.Schedule),
		Created: event(ctx, connvault.ActionCreated, "", map[string]any{"provider_type": in.ProviderType, "tested": tested}),
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "connection created", "org", c.OrgID, "connection_id", c.ID, "provider_type", c.ProviderType)
	return c, nil
}

// GetConnection implements GET /v1/organizations/connections/{id}.
func (s *Server) GetConnection(ctx context.Context, req gen.GetConnectionRequestObject) (gen.GetConnectionResponseObject, error) {
	c, err := s.store.GetConnection(ctx, principal(ctx).OrgID, req.ConnectionIdentifier)
	if err != nil {
		return nil, err
	}
	return encodeConnection(c), nil
}

// DeleteConnection implements DELETE /v1/organizations/connections/{id}:
// archive, idempotent by id.
func (s *Server) DeleteConnection(ctx context.Context, req gen.DeleteConnectionRequestObject) (gen.DeleteConnectionResponseObject, error) {
	before, err := s.store.GetConnection(ctx, principal(ctx).OrgID, req.ConnectionIdentifier)
	if err != nil {
		return nil, err
	}
	// The event is recorded by the archive's transaction, when it archives,
	// with the status it archived from.
	c, err := s.store.ArchiveConnection(ctx, before, event(ctx, connvault.ActionArchived, before.ID, nil))
	if err != nil {
		return nil, err
	}
	if before.Status != c.Status {
		s.log.InfoContext(ctx, "connection archived", "org", c.OrgID, "connection_id", c.ID)
	}
	return encodeConnection(c), nil
}

// TestConnection implements POST /v1/organizations/connections/{id}/test.
func (s *Server) TestConnection(ctx context.Context, req gen.TestConnectionRequestObject) (gen.TestConnectionResponseObject, error) {
	c, err := s.store.GetConnection(ctx, principal(ctx).OrgID, req.ConnectionIdentifier)
	if err != nil {
		return nil, err
	}
	if err := c.Mutable(); err != nil {
		return nil, err
	}
	p, full, err := s.plainConfig(ctx, c)
	if err != nil {
		return nil, err
	}
	out := s.runCheck(ctx, p, full)
	if out.Rotated != nil {
		// The check spent the stored refresh token: keep the new one.
		if c, err = s.store.StoreRotated(context.WithoutCancel(ctx), c, providers.Seal(p, out.Rotated)); err != nil {
			return nil, err
		}
	}
	// Record even when the client has gone: the outcome is real.
	tested := event(ctx, connvault.ActionTested, c.ID, map[string]any{"success": out.Success, "timed_out": out.TimedOut})
	if _, err := s.store.RecordCheck(context.WithoutCancel(ctx), c, out.Success, out.Message, s.cfg.Schedule, "",
		store.HealthAudit{Actor: actor(ctx), Events: []store.NewEvent{*tested}}); err != nil {
		return nil, err
	}
	if out.TimedOut {
		return nil, connvault.Errorf(connvault.ETIMEOUT, "connection test timed out: %s", out.Message)
	}
	return gen.TestConnection200JSONResponse(out.response()), nil
}

// UpdateConnection implements PATCH /v1/organizations/connections/{id}.
func (s *Server) UpdateConnection(ctx context.Context, req gen.UpdateConnectionRequestObject) (gen.UpdateConnectionResponseObject, error) {
	body := req.Body
	c, err := s.store.GetConnection(ctx, principal(ctx).OrgID, req.ConnectionIdentifier)
	if err != nil {
		return nil, err
	}
	if err := c.Mutable(); err != nil {
		return nil, err
	}
	before := *c
	var changed []string
	now := time.Now().UTC()
	if body.Name != nil {
		c.Name = *body.Name
	}
	if body.Description.IsSpecified() {
		if body.Description.IsNull() {
			c.Description = nil
		} else {
			d := body.Description.MustGet()
			c.Description = &d
		}
	}
	if body.Metadata != nil {
		raw, err := json.Marshal(*body.Metadata)
		if err != nil {
			return nil, err
		}
		c.Metadata = raw
	}

	var change *store.ConfigChange
	var spent providers.Config // stored secrets the check replaced, if any
	var p *providers.Provider
	if body.ProviderConfig != nil {
		var full providers.Config
		p, full, err = s.plainConfig(ctx, c)
		if err != nil {
			return nil, err
		}
		patch := *body.ProviderConfig
		if pt, ok := patch["provider_type"]; ok && pt != c.ProviderType {
			return nil, connvault.Invalid([]string{"body", "provider_config", "provider_type"}, "provider_config.provider_type must equal the connection's provider_type, "+c.ProviderType)
		}
		merged, err := providers.Merge(p, full, withoutProviderType(patch))
		if err != nil {
			return nil, connvault.Under(err, "body", "provider_config")
		}
		if moved := providers.SecretsSentElsewhere(p, full, merged, patch); moved != nil {
			return nil, connvault.Invalid(append([]string{"body", "provider_config"}, moved...),
				"changing "+strings.Join(moved, ".")+" changes where the stored credentials are sent: send them again with it")
		}
		if err := s.schemas.validate(c.ProviderType, merged); err != nil {
			return nil, err
		}
		if body.TestBeforeSave == nil || *body.TestBeforeSave {
			out := s.runCheck(ctx, p, merged)
			if out.Rotated != nil {
				// Whatever becomes of the change, a stored refresh token the
				// check spent must be replaced by the one it got.
				spent = providers.SpentSecrets(p, full, merged, out.Rotated)
			}
			if !out.Success {
				s.storeSpent(ctx, p, &before, spent)
				return nil, out.refusal()
			}
			if out.Rotated != nil {
				merged = out.Rotated // the check spent the refresh token given
			}
			// New credentials that test OK bring a FAILED connection back.
			c.Health = c.Health.AfterCheck(true, "", now, s.cfg.Schedule)
		} else {
			c.Health = c.Health.Untested(now)
		}
		changed = append(changed, changedPaths(full, merged, "provider_config.")...)
		change = &store.ConfigChange{Config: providers.Seal(p, merged)}
	}
	// After the config: new credentials that test OK may already have
	// brought a FAILED connection back, which a status of ACTIVE confirms.
	if target, ok, err := requestedStatus(body); err != nil {
		return nil, err
	} else if ok {
		if c.Health, err = c.Health.SetByUser(target, now, s.cfg.Schedule); err != nil {
			return nil, err
		}
	}
	if body.Name != nil && before.Name != c.Name {
		changed = append(changed, "name")
	}
	if body.Description.IsSpecified() {
		changed = append(changed, "description")
	}
	if body.Metadata != nil {
		changed = append(changed, "metadata")
	}
	if body.Status != nil || body.IsActive != nil {
		changed = append(changed, "status")
	}
	// The events go in the update's statement, which also drops the tokens
	// issued from replaced credentials: all of it happens, or none.
	events := []store.NewEvent{*event(ctx, connvault.ActionUpdated, c.ID, map[string]any{"fields": changed})}
	if e := store.StatusChanged(actor(ctx), &before, c); e != nil {
		events = append(events, *e)
	}
	updated, err := s.store.UpdateConnection(ctx, c, change, events...)
	if err != nil {
		s.storeSpent(ctx, p, &before, spent)
		return nil, err
	}
	return encodeConnection(updated), nil
}

// storeSpent stores, when a checked change is refused, the secrets its
// check rotated in place of stored ones it spent: else the connection is
// left with a refresh token that no longer works. The change's own answer
// stands; a failure here is logged.
func (s *Server) storeSpent(ctx context.Context, p *providers.Provider, c *connvault.Connection, spent providers.Config) {
	if spent == nil {
		return
	}
	if _, err := s.store.StoreRotated(context.WithoutCancel(ctx), c, providers.Seal(p, spent)); err != nil {
		s.log.ErrorContext(ctx, "secrets rotated by a refused change's check not stored", "connection_id", c.ID, "error", err.Error())
	}
}

// requestedStatus reads status and its alias is_active; both given must agree.
func requestedStatus(body *gen.UpdateConnectionRequest) (connvault.Status, bool, error) {
	var fromStatus, fromActive connvault.Status
	if body.Status != nil {
		fromStatus = connvault.Status(*body.Status)
	}
	if body.IsActive != nil {
		fromActive = connvault.StatusSuspended
		if *body.IsActive {
			fromActive = connvault.StatusActive
		}
	}
	switch {
	case fromStatus != "" && fromActive != "" && fromStatus != fromActive:
		return "", false, connvault.Invalid([]string{"body", "is_active"}, "status and is_active disagree")
	case fromStatus != "":
		return fromStatus, true, nil
	case fromActive != "":
		return fromActive, true, nil
	}
	return "", false, nil
}

// ListConnections implements POST /v1/organizations/connections/list.
func (s *Server) ListConnections(ctx context.Context, req gen.ListConnectionsRequestObject) (gen.ListConnectionsResponseObject, error) {
	f := store.ListFilter{OrgID: principal(ctx).OrgID}
	if b := req.Body; b != nil {
		f.ProviderType = (*string)(b.ProviderType)
		f.Status = (*string)(b.Status)
		f.IsActive = b.IsActive
		f.Search = b.Search
	}
	// The filters travel in the body, so the page links carry only the paging.
	page, err := s.list(ctx, f, req.Params.Limit, req.Params.Offset, req.Params.Cursor, listPath+"/list", url.Values{})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// ListConnectionsGet implements GET /v1/organizations/connections.
func (s *Server) ListConnectionsGet(ctx context.Context, req gen.ListConnectionsGetRequestObject) (gen.ListConnectionsGetResponseObject, error) {
	q := req.Params
	f := store.ListFilter{
		OrgID:        principal(ctx).OrgID,
		ProviderType: (*string)(q.ProviderType),
		Status:       (*string)(q.Status),
		IsActive:     q.IsActive,
		Search:       q.Search,
	}
	filters := url.Values{}
	if q.ProviderType != nil {
		filters.Set("provider_type", string(*q.ProviderType))
	}
	if q.Status != nil {
		filters.Set("status", string(*q.Status))
	}
	if q.IsActive != nil {
		filters.Set("is_active", strconv.FormatBool(*q.IsActive))
	}
	if q.Search != nil {
		filters.Set("search", *q.Search)
	}
	page, err := s.list(ctx, f, q.Limit, q.Offset, q.Cursor, listPath, filters)
	if err != nil {
		return nil, err
	}
	return page, nil
}

// listPath is where GET lists; POST lists at listPath + "/list".
const listPath = "/v1/organizations/connections"

// list answers one page. next_page and previous_page are links to the same
// list at another offset: path plus the filters in query plus limit and offset.
func (s *Server) list(ctx context.Context, f store.ListFilter, limit, offset *int, cursor *string, path string, query url.Values) (*listAnswer, error) {
	f.Limit, f.Offset = 50, 0
	if limit != nil {
		f.Limit = *limit
	}
	if offset != nil {
		f.Offset = *offset
	}
	if cursor != nil && *cursor != "" {
		cur, err := store.DecodeCursor(*cursor)
		if err != nil {
			return nil, connvault.Under(err, "query", "cursor")
		}
		f.After, f.Offset = &cur, 0
	}
	if f.Search != nil {
		trimmed := strings.TrimSpace(*f.Search)
		f.Search = &trimmed
	}
	res, err := s.store.ListConnections(ctx, f)
	if err != nil {
		return nil, err
	}
	link := func(offset int) *string {
		query.Set("limit", strconv.Itoa(f.Limit))
		query.Set("offset", strconv.Itoa(offset))
		l := path + "?" + query.Encode()
		return &l
	}
	pg := gen.Pagination{
		Page:       f.Offset/f.Limit + 1,
		PageSize:   f.Limit,
		Total:      res.Total,
		TotalPages: (res.Total + f.Limit - 1) / f.Limit,
	}
	if f.After == nil && f.Offset > 0 {
		pg.PreviousPage = link(max(f.Offset-f.Limit, 0))
	}
	if res.Next != nil {
		next := res.Next.Encode()
		pg.NextCursor = &next
		if f.After == nil {
			pg.NextPage = link(f.Offset + f.Limit)
		}
	}
	return encodeList(res.Connections, pg), nil
}

// withoutProviderType drops provider_type from a provider_config: Mixpeek's
// clients restate the connection's type there (the spec makes it equal the
// outer one); it is not configuration and is not stored twice.
func withoutProviderType(cfg map[string]any) map[string]any {
	if _, ok := cfg["provider_type"]; !ok {
		return cfg
	}
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		if k != "provider_type" {
			out[k] = v
		}
	}
	return out
}
