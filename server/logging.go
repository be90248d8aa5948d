package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/connvault/connvault"
)

// NewLogger returns a JSON logger whose handler redacts any attribute whose
// key looks like it names a credential, as a second line of defence behind
// connvault.Secret (which already prints as the marker). level is debug,
// info, warn or error. When w is a *LogBuffer, a record at warn or above
// is written through at once.
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	h := redactingHandler{Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv})}
	if b, ok := w.(*LogBuffer); ok {
		h.flush = b.Flush
	}
	return slog.New(h), nil
}

// LogBuffer gathers log lines on their way to w. Under load the request
// log is a line per request, and a write system call for each was about 4%
// of a GET's CPU. What gathers is written every interval, once 32 KB have
// gathered, on Flush and on Close; so at most interval's worth of info
// lines is lost if the process is killed.
type LogBuffer struct {
	w    io.Writer
	mu   sync.Mutex
	buf  []byte
	stop chan struct{}
	done chan struct{}
}

const logBufferSize = 32 << 10

// NewLogBuffer starts a LogBuffer that writes to w every interval.
func NewLogBuffer(w io.Writer, interval time.Duration) *LogBuffer {
	b := &LogBuffer{w: w, buf: make([]byte, 0, logBufferSize), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = b.Flush()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// Write gathers p (one log record: slog writes each in one call).
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) >= logBufferSize {
		b.writeLocked()
	}
	return len(p), nil
}

// Flush writes what has gathered.
func (b *LogBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writeLocked()
}

func (b *LogBuffer) writeLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// Close stops the timer and writes what has gathered.
func (b *LogBuffer) Close() error {
	close(b.stop)
	<-b.done
	return b.Flush()
}

// secretKeyWords mark attribute keys whose values are never logged.
var secretKeyWords = []string{"password", "secret", "token", "private_key", "passphrase", "authorization", "api_key", "apikey", "application_key", "credential"}

type redactingHandler struct {
	slog.Handler
	// flush, when set, writes a LogBuffer through: warnings and errors
	// are not left waiting for its timer.
	flush func() error
}

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if id := requestID(ctx); id != "" {
		out.AddAttrs(slog.String("request_id", id))
	}
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	err := h.Handler.Handle(ctx, out)
	if h.flush != nil && r.Level >= slog.LevelWarn {
		_ = h.flush()
	}
	return err
}

func (h redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return redactingHandler{Handler: h.Handler.WithAttrs(red), flush: h.flush}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{Handler: h.Handler.WithGroup(name), flush: h.flush}
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
