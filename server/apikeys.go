package server

import (
	"context"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
	"github.com/connvault/connvault/store"
)

func apiKeyModel(k *connvault.APIKey) gen.ApiKey {
	scopes := make([]gen.Scope, len(k.Scopes))
	for i, s := range k.Scopes {
		scopes[i] = gen.Scope(s)
	}
	return gen.ApiKey{KeyId: k.ID, Prefix: k.Prefix, Name: k.Name, Scopes: scopes, CreatedByUserId: k.CreatedByUserID,
		CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

// CreateApiKey implements POST /v1/organizations/api-keys.
func (s *Server) CreateApiKey(ctx context.Context, req gen.CreateApiKeyRequestObject) (gen.CreateApiKeyResponseObject, error) {
	who := principal(ctx)
	n := store.NewAPIKey{OrgID: who.OrgID, UserID: who.UserID, Name: req.Body.Name}
	if req.Body.Scopes != nil {
		for _, sc := range *req.Body.Scopes {
			n.Scopes = append(n.Scopes, connvault.Scope(sc))
		}
	}
	// Recorded by the key's transaction, which adds the key's id and scopes.
	n.Created = event(ctx, connvault.ActionKeyCreated, "", map[string]any{"name": n.Name})
	raw, k, err := s.store.CreateAPIKey(ctx, n)
	if err != nil {
		return nil, err
	}
	m := apiKeyModel(k)
	return gen.CreateApiKey200JSONResponse{KeyId: k.ID, Key: raw, Prefix: k.Prefix, Name: k.Name, Scopes: m.Scopes, CreatedAt: k.CreatedAt}, nil
}

// ListApiKeys implements GET /v1/organizations/api-keys.
func (s *Server) ListApiKeys(ctx context.Context, _ gen.ListApiKeysRequestObject) (gen.ListApiKeysResponseObject, error) {
	keys, err := s.store.ListAPIKeys(ctx, principal(ctx).OrgID)
	if err != nil {
		return nil, err
	}
	out := gen.ApiKeyList{Results: make([]gen.ApiKey, 0, len(keys))}
	for _, k := range keys {
		out.Results = append(out.Results, apiKeyModel(k))
	}
	return gen.ListApiKeys200JSONResponse(out), nil
}

// RevokeApiKey implements DELETE /v1/organizations/api-keys/{key_id}.
func (s *Server) RevokeApiKey(ctx context.Context, req gen.RevokeApiKeyRequestObject) (gen.RevokeApiKeyResponseObject, error) {
	k, err := s.store.RevokeAPIKeyByID(ctx, principal(ctx).OrgID, req.KeyId,
		*event(ctx, connvault.ActionKeyRevoked, "", map[string]any{"key_id": req.KeyId}))
	if err != nil {
		return nil, err
	}
	s.auth.forgetAll() // this process stops accepting it at once; others within the cache TTL
	return gen.RevokeApiKey200JSONResponse(apiKeyModel(k)), nil
}
