package providers_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
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
		"::ffff:10.1.2.3": true, "::ffff:100.100.100.200": true, "0.1.2.3": true, "198.18.0.1": true,
		"255.255.255.255": true, "fec0::1": true, "ff02::1": true, "::": true,
		"64:ff9b::a9fe:a9fe": true, "64:ff9b::7f00:1": true, "2002:a00:1::": true, "2002:7f00:1::1": true,
		"64:ff9b::808:808": false, "2002:808:808::1": false,
		"8.8.8.8": false, "1.1.1.1": false, "2606:4700::1111": false, "100.128.0.1": false, "172.32.0.1": false,
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

func TestRedirectLimit(t *testing.T) {
	t.Parallel()
	// /hop/N redirects to /hop/N-1 on the same host; /hop/0 answers.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
		if n == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.Redirect(w, r, "/hop/"+strconv.Itoa(n-1), http.StatusFound)
	}))
	defer srv.Close()
	env := providers.NewEnv(providers.EnvOptions{AllowPrivateNetworks: true, Timeout: 2 * time.Second})
	resp, err := env.HTTP.Get(srv.URL + "/hop/3")
	if err != nil {
		t.Fatalf("3 redirects: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("3 redirects ended with %d", resp.StatusCode)
	}
	if _, err := env.HTTP.Get(srv.URL + "/hop/4"); err == nil || !strings.Contains(err.Error(), "stopped after 3 redirects") {
		t.Errorf("4 redirects: err = %v", err)
	}
}

// A name that resolves to a forbidden address (a rebinding DNS server's
// second answer, say) is refused when the answer is dialed: the guard sits
// in the dialer and judges the IP actually connected to, never the name.
func TestGuardJudgesResolvedAddresses(t *testing.T) {
	t.Parallel()
	var lookups atomic.Int64
	answers := map[string]string{"metadata.test": "169.254.169.254", "intranet.test": "10.0.0.1", "mapped.test": "::ffff:192.168.0.1"}
	env := providers.NewEnv(providers.EnvOptions{Timeout: 2 * time.Second,
		Lookup: func(_ context.Context, host string) ([]string, error) {
			lookups.Add(1)
			return []string{answers[host]}, nil
		}})
	for host := range answers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+host+"/latest/meta-data/", nil)
		start := time.Now()
		_, err := env.HTTP.Do(req)
		cancel()
		if !errors.Is(err, providers.ErrBlockedAddress) {
			t.Errorf("%s: err = %v, want ErrBlockedAddress", host, err)
		}
		// A SYN to a silent address would hang until the timeout.
		if time.Since(start) > time.Second {
			t.Errorf("%s: refusal took %v", host, time.Since(start))
		}
		if _, err := env.Dial(context.Background(), "tcp", net.JoinHostPort(host, "5432")); !errors.Is(err, providers.ErrBlockedAddress) {
			t.Errorf("%s: raw dial err = %v", host, err)
		}
	}
	if lookups.Load() == 0 {
		t.Error("the injected resolver was not used")
	}
}

// The dialer's Control hook runs after the socket exists and before
// connect(2): it is handed the resolved address and its refusal ends the
// dial, so no packet leaves for a refused address.
func TestGuardedDialerRefusesInControl(t *testing.T) {
	t.Parallel()
	d := providers.GuardedDialer(false)
	guard := d.Control
	var seen []string
	d.Control = func(network, address string, c syscall.RawConn) error {
		err := guard(network, address, c)
		seen = append(seen, address+" "+strconv.FormatBool(err != nil))
		return err
	}
	for _, addr := range []string{"10.0.0.1:80", "169.254.169.254:80", "[::1]:80", "127.0.0.1:1"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := d.DialContext(ctx, "tcp", addr)
		cancel()
		if !errors.Is(err, providers.ErrBlockedAddress) {
			t.Errorf("%s: err = %v", addr, err)
		}
	}
	want := []string{"10.0.0.1:80 true", "169.254.169.254:80 true", "[::1]:80 true", "127.0.0.1:1 true"}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("Control saw %v, want %v", seen, want)
	}
	if providers.GuardedDialer(true).Control != nil {
		t.Error("with private networks allowed the dialer should not judge addresses")
	}
}

func TestRedirectNeverDowngradesToHTTP(t *testing.T) {
	t.Parallel()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Same host and port, scheme http.
		http.Redirect(w, r, "http://"+r.Host+"/plain", http.StatusFound)
	}))
	defer secure.Close()
	env := providers.NewEnv(providers.EnvOptions{AllowPrivateNetworks: true, InsecureSkipVerify: true, Timeout: 2 * time.Second})
	if _, err := env.HTTP.Get(secure.URL + "/start"); err == nil || !strings.Contains(err.Error(), "https to http") {
		t.Errorf("err = %v", err)
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
