package providers_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connvault/connvault/providers"
)

func TestBlockedAddresses(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.9.9.9": true, "10.0.0.1": true, "172.16.5.4": true, "192.168.1.1": true,
		"169.254.169.254": true, "100.64.0.1": true, "0.0.0.0": true, "::1": true, "fe80::1": true, "fd00::1": true,
		"::ffff:127.0.0.1": true, "::ffff:169.254.169.254": true, "224.0.0.1": true,
		"8.8.8.8": false, "1.1.1.1": false, "2606:4700::1111": false,
	} {
		if got := providers.Blocked(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Blocked(%s) = %v, want %v", addr, got, want)
		}
	}
}

// The guard refuses in the dialer's Control hook, after resolution and
// before the socket connects: no packet reaches a refused address. The
// loopback listener proves it for a reachable address: it sees no
// connection. The others are refused the same way, so nothing is sent to
// them either (and nothing listens there).
func TestGuardRefusesBeforeDialing(t *testing.T) {
	t.Parallel()
	var accepted atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { accepted.Add(1) }))
	defer srv.Close()
	port := netip.MustParseAddrPort(srv.Listener.Addr().String()).Port()

	env := providers.NewEnv(providers.EnvOptions{Timeout: 2 * time.Second})
	for _, target := range []string{
		srv.URL,                          // 127.0.0.1
		"http://localhost:" + itoa(port), // a name that resolves to loopback
		"http://[::1]:" + itoa(port),
		"http://10.0.0.1/",
		"http://169.254.169.254/latest/meta-data/",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", target, nil)
		_, err := env.HTTP.Do(req)
		cancel()
		if !errors.Is(err, providers.ErrBlockedAddress) {
			t.Errorf("%s: err = %v, want ErrBlockedAddress", target, err)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the loopback server saw %d requests", n)
	}
	// The raw dialer (databases) is guarded too.
	if _, err := env.Dial(context.Background(), "tcp", srv.Listener.Addr().String()); !errors.Is(err, providers.ErrBlockedAddress) {
		t.Errorf("raw dial: %v", err)
	}

	// Allowed explicitly, the same server is reachable.
	open := providers.NewEnv(providers.EnvOptions{AllowPrivateNetworks: true})
	resp, err := open.HTTP.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if accepted.Load() != 1 {
		t.Error("allowed request did not arrive")
	}
}

func TestRedirectsStayOnTheSameHost(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/same" {
			w.WriteHeader(200)
			return
		}
		if r.URL.Path == "/away" {
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
			return
		}
		http.Redirect(w, r, "/same", http.StatusFound)
	}))
	defer srv.Close()
	env := providers.NewEnv(providers.EnvOptions{AllowPrivateNetworks: true})
	resp, err := env.HTTP.Get(srv.URL + "/start")
	if err != nil {
		t.Fatalf("same-host redirect: %v", err)
	}
	resp.Body.Close()
	if _, err := env.HTTP.Get(srv.URL + "/away"); err == nil {
		t.Error("followed a redirect to another host")
	}
}

func TestInvalidNamesNeverReachDNS(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, err := providers.LookupHost(context.Background(), "bucket.s3.example.invalid")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound || time.Since(start) > 50*time.Millisecond {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }
