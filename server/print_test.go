package server_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/connvault/connvault"
)

func stringOf(s connvault.Secrets) string {
	b, _ := json.Marshal(s)
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "secrets", s)
	return fmt.Sprintf("%v %+v %#v %s", s, s, s, b) + sb.String()
}

func firstKey(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}

func TestSecretPrintsAsMarker(t *testing.T) {
	t.Parallel()
	s := connvault.Secret("hunter2-very-secret")
	var sb strings.Builder
	slog.New(slog.NewJSONHandler(&sb, nil)).Info("x", "s", s)
	b, _ := json.Marshal(map[string]any{"s": s})
	err := fmt.Errorf("wrapped: %v %s %q %x %d", s, s, s, s, s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s), sb.String(), string(b), err.Error()} {
		if strings.Contains(out, "hunter2") || !strings.Contains(out, connvault.RedactedMarker) {
			t.Errorf("printed %q", out)
		}
	}
	if s.Reveal() != "hunter2-very-secret" {
		t.Error("Reveal does not return the value")
	}
}
