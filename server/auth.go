package server

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strconv"
	"strings"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
	"github.com/connvault/connvault/store"
	"github.com/labstack/echo/v4"
)

type principalKey struct{}

// authenticate resolves the Bearer key of every API request before the
// validator runs, so an unauthenticated caller learns nothing about the
// request's shape. Missing, malformed, unknown and revoked keys all get the
// same 401.
func (s *Server) authenticate(applies func(echo.Context) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !applies(c) {
				return next(c)
			}
			raw, ok := bearerKey(c.Request().Header.Get(echo.HeaderAuthorization))
			if !ok {
				return s.unauthorized(c)
			}
			p, ok, key := s.auth.get(raw)
			if !ok {
				var err error
				if p, err = s.store.Authenticate(c.Request().Context(), raw); err != nil {
					if connvault.ErrorCode(err) == connvault.EUNAUTH {
						return s.unauthorized(c)
					}
					return err
				}
				s.auth.put(key, p)
			}
			if ok, wait := s.limiter.allow(key.hash); !ok {
				return tooManyRequests(wait)
			}
			ctx := context.WithValue(c.Request().Context(), principalKey{}, p)
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// bearerKey extracts "sk_..." from "Bearer sk_...".
func bearerKey(header string) (string, bool) {
	scheme, key, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	if !strings.HasPrefix(key, "sk_") || len(key) < 8 || len(key) > 200 || strings.ContainsAny(key, " \t") {
		return "", false
	}
	return key, true
}

// unauthorized answers a request without a valid key: 401, or 429 once its
// client address has sent too many of them.
func (s *Server) unauthorized(c echo.Context) error {
	if ok, wait := s.anonymous.allow(sha256.Sum256([]byte(c.RealIP()))); !ok {
		return &apiError{Status: http.StatusTooManyRequests, Type: gen.ErrorBodyTypeTooManyRequestsError,
			Message:    "too many requests without a valid API key from this address; retry after " + strconv.Itoa(wait) + "s",
			retryAfter: wait}
	}
	return &apiError{Status: http.StatusUnauthorized, Type: gen.ErrorBodyTypeUnauthorizedError,
		Message: "a valid API key is required: send Authorization: Bearer sk_..."}
}

// principal returns who the request speaks for; authenticate guarantees one.
func principal(ctx context.Context) store.Principal {
	p, _ := ctx.Value(principalKey{}).(store.Principal)
	return p
}
