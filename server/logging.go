package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/connvault/connvault"
)

// NewLogger returns a JSON logger whose handler redacts any attribute whose
// key looks like it names a credential, as a second line of defence behind
// connvault.Secret (which already prints as the marker). level is debug,
// info, warn or error.
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return slog.New(redactingHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv})}), nil
}

// secretKeyWords mark attribute keys whose values are never logged.
var secretKeyWords = []string{"password", "secret", "token", "private_key", "passphrase", "authorization", "api_key", "apikey", "application_key", "credential"}

type redactingHandler struct{ slog.Handler }

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if id := requestID(ctx); id != "" {
		out.AddAttrs(slog.String("request_id", id))
	}
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return redactingHandler{h.Handler.WithAttrs(red)}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{h.Handler.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	key := strings.ToLower(a.Key)
	for _, w := range secretKeyWords {
		if strings.Contains(key, w) {
			return slog.String(a.Key, connvault.RedactedMarker)
		}
	}
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		red := make([]any, len(attrs))
		for i, g := range attrs {
			red[i] = redactAttr(g)
		}
		return slog.Group(a.Key, red...)
	}
	return a
}
