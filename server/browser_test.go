package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
)

// The API reference page renders in a real browser with no network but
// this server: headless Chromium loads /docs and the test reads the DOM
// Redoc built. `make test` provides Chromium (CONNVAULT_CHROMIUM).
func TestDocsRenderInChromium(t *testing.T) {
	t.Parallel()
	chromium := os.Getenv("CONNVAULT_CHROMIUM")
	if chromium == "" {
		if os.Getenv(connvaulttest.CoverageEnv) != "" {
			t.Fatal("CONNVAULT_CHROMIUM is not set although make test is running")
		}
		t.Skip("CONNVAULT_CHROMIUM is not set: `make test` installs Chromium and runs this")
	}
	h := connvaulttest.NewServer(t, connvaulttest.Options{})
	browse := func(extra ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
			"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=20000", "--window-size=1400,1000"}, extra...)
		out, err := exec.CommandContext(ctx, chromium, append(args, h.URL+"/docs")...).Output()
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		return out
	}
	dom := string(browse("--dump-dom"))
	for _, want := range []string{"Create a storage connection", "Archive a storage connection", "provider_config", "secret_access_key",
		"google_drive", "s3", "snowflake", "sharepoint", "tigris", "postgresql", "instagram", "tiktok", "rss", "http_api", "box", "brightdata", "backblaze"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	shot := filepath.Join(t.TempDir(), "docs.png")
	if dest := os.Getenv("CONNVAULT_DOCS_SCREENSHOT"); dest != "" {
		shot = dest
	}
	browse("--screenshot=" + shot)
	if st, err := os.Stat(shot); err != nil || st.Size() < 10_000 {
		t.Errorf("no screenshot: %v", err)
	}
}
