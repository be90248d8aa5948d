package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/labstack/echo/v4"
)

// HeaderRequestID carries a request's id both ways.
const HeaderRequestID = "X-Request-Id"

type requestIDKey struct{}

// assignRequestID gives every request an id: the client's, when it sent a
// usable one (so a caller can follow its own id through our logs), a new
// one otherwise. The id is answered in X-Request-Id, put on every log line
// written with the request's context, and into every error answer.
func assignRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		id := req.Header.Get(HeaderRequestID)
		if !usableRequestID(id) {
			id = newRequestID()
		}
		c.Response().Header().Set(HeaderRequestID, id)
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), requestIDKey{}, id)))
		return next(c)
	}
}

// usableRequestID accepts 1 to 128 letters, digits and . _ : - only: an id
// ends up in log lines and answers, so it must not carry anything else.
func usableRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == ':', b == '-':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails: since Go 1.24 it crashes the process instead
	return hex.EncodeToString(b[:])
}

// requestID returns the id assignRequestID gave the request, if any.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
