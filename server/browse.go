package server

import (
	"context"
	"errors"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/store"
)

// ListFolders implements GET .../connections/{id}/folders.
func (s *Server) ListFolders(ctx context.Context, req gen.ListFoldersRequestObject) (gen.ListFoldersResponseObject, error) {
	p := req.Params
	page, err := s.browse(ctx, req.ConnectionIdentifier, providers.BrowseFolders, p.Path, p.MaxResults, p.Cursor)
	if err != nil {
		return nil, err
	}
	return gen.ListFolders200JSONResponse(page), nil
}

// ListFiles implements GET .../connections/{id}/files.
func (s *Server) ListFiles(ctx context.Context, req gen.ListFilesRequestObject) (gen.ListFilesResponseObject, error) {
	p := req.Params
	page, err := s.browse(ctx, req.ConnectionIdentifier, providers.BrowseFiles, p.Path, p.MaxResults, p.Cursor)
	if err != nil {
		return nil, err
	}
	return gen.ListFiles200JSONResponse(page), nil
}

// browse lists through the provider's own API. A listing is a use of the
// connection (the seeds' "list operation"): success sets last_used_at,
// a refusal by the provider counts as a failure, through the lifecycle
// rule of usage reports; a rotated refresh token is stored either way.
func (s *Server) browse(ctx context.Context, identifier string, kind providers.BrowseKind, path *string, maxResults *int, cursor *string) (gen.BrowseList, error) {
	c, err := s.store.GetConnection(ctx, principal(ctx).OrgID, identifier)
	if err != nil {
		return gen.BrowseList{}, err
	}
	if c.Status != connvault.StatusActive {
		return gen.BrowseList{}, connvault.Errorf(connvault.ESTATE, "only ACTIVE connections are browsed; this one is %s", c.Status)
	}
	p, full, err := s.plainConfig(ctx, c)
	if err != nil {
		return gen.BrowseList{}, err
	}
	if p.Browse == nil {
		return gen.BrowseList{}, connvault.Errorf(connvault.ESTATE, "%s connections have no folders or files to browse", c.ProviderType)
	}
	breq := providers.BrowseRequest{Kind: kind, Path: "/"}
	if path != nil {
		breq.Path = *path
	}
	if maxResults != nil {
		breq.MaxResults = *maxResults
	}
	if cursor != nil {
		breq.Cursor = *cursor
	}
	// Not cut short by a client that leaves (see runCheck).
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CheckTimeout)
	page, err := p.Browse(bctx, full, s.cfg.Env, breq)
	cancel()
	if page.Rotated != nil {
		// The exchange spent the stored refresh token: keep the new one,
		// whether or not the listing itself succeeded.
		updated, serr := s.store.StoreRotated(context.WithoutCancel(ctx), c, providers.Seal(p, page.Rotated))
		if serr != nil {
			return gen.BrowseList{}, serr
		}
		c = updated
	}
	var be *providers.BrowseError
	switch {
	case err == nil:
		if _, err := s.store.RecordUsage(context.WithoutCancel(ctx), c.OrgID, c.ID, true, "", s.cfg.Schedule, store.HealthAudit{Actor: actor(ctx)}); err != nil {
			return gen.BrowseList{}, err
		}
	case errors.As(err, &be) && be.Invalid:
		return gen.BrowseList{}, connvault.Invalid([]string{"query"}, be.Message)
	case errors.As(err, &be) && be.NotFound:
		return gen.BrowseList{}, connvault.Errorf(connvault.ENOTFOUND, "%s", be.Message)
	case errors.As(err, &be) && be.TimedOut:
		return gen.BrowseList{}, connvault.Errorf(connvault.ETIMEOUT, "the provider did not answer in time: %s", be.Message)
	case errors.As(err, &be):
		if be.Refused {
			if _, rerr := s.store.RecordUsage(context.WithoutCancel(ctx), c.OrgID, c.ID, false, "browse: "+be.Message, s.cfg.Schedule,
				store.HealthAudit{Actor: actor(ctx)}); rerr != nil {
				return gen.BrowseList{}, rerr
			}
		}
		return gen.BrowseList{}, connvault.Errorf(connvault.EPROVIDER, "the provider refused the listing: %s", be.Message)
	default:
		return gen.BrowseList{}, err
	}
	out := gen.BrowseList{ParentPath: page.ParentPath, Results: make([]gen.BrowseItem, 0, len(page.Items))}
	for _, it := range page.Items {
		mime := it.MimeType
		if mime == "" {
			mime = "application/octet-stream"
			if it.IsFolder {
				mime = "inode/directory"
			}
		}
		out.Results = append(out.Results, gen.BrowseItem{Id: it.ID, Name: it.Name, Path: it.Path, MimeType: mime, Size: it.Size, ModifiedAt: it.ModifiedAt})
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	return out, nil
}
