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

// guardCases are the guard's table: each address with the kind its
// refusal names, or "" for one the allow-list lets through. Allowed
// addresses are only judged here, never dialed.
var guardCases = []struct{ addr, kind string }{
	// IPv4 special-purpose space.
	{"0.0.0.0", "unspecified"}, {"0.1.2.3", "unspecified"},
	{"127.0.0.1", "loopback"}, {"127.9.9.9", "loopback"},
	{"10.0.0.1", "private"}, {"10.1.2.3", "private"}, {"172.16.5.4", "private"}, {"172.31.255.254", "private"}, {"192.168.1.1", "private"},
	{"169.254.169.254", "link-local"}, {"169.254.0.1", "link-local"},
	{"100.64.0.1", "carrier-grade NAT"}, {"100.100.100.200", "carrier-grade NAT"}, {"100.127.255.254", "carrier-grade NAT"},
	{"192.0.0.8", "IETF"}, {"192.0.0.170", "IETF"},
	{"192.0.2.1", "documentation"}, {"198.51.100.7", "documentation"}, {"203.0.113.9", "documentation"},
	{"198.18.0.1", "benchmarking"}, {"198.19.255.254", "benchmarking"},
	{"224.0.0.1", "multicast"}, {"239.255.255.250", "multicast"},
	{"240.0.0.1", "reserved"}, {"254.1.2.3", "reserved"}, {"255.255.255.255", "broadcast"},
	{"192.88.99.1", "reserved"}, {"192.31.196.1", "reserved"}, {"192.175.48.1", "reserved"}, {"192.52.193.1", "reserved"},

	// IPv4-mapped forms are judged as the IPv4 address the kernel dials.
	{"::ffff:127.0.0.1", "loopback"}, {"::ffff:10.1.2.3", "private"}, {"::ffff:169.254.169.254", "link-local"},
	{"::ffff:100.100.100.200", "carrier-grade NAT"}, {"::ffff:0.0.0.0", "unspecified"}, {"::ffff:192.0.2.1", "documentation"},
	{"::ffff:198.18.0.1", "benchmarking"}, {"::ffff:240.0.0.1", "reserved"}, {"::ffff:224.0.0.1", "multicast"},
	{"::ffff:192.0.0.8", "IETF"},

	// IPv6 outside global unicast.
	{"::", "unspecified"}, {"::1", "loopback"},
	{"::127.0.0.1", "IPv4-compatible"}, {"::a9fe:a9fe", "IPv4-compatible"}, {"::a01:203", "IPv4-compatible"}, {"::8.8.8.8", "IPv4-compatible"},
	{"::ffff:0:a9fe:a9fe", "reserved"}, // IPv4-translated (SIIT)
	{"100::1", "reserved"},             // discard-only
	{"fc00::1", "unique local"}, {"fd00::1", "unique local"},
	{"fe80::1", "link-local"}, {"febf::1", "link-local"}, {"fe80::1%eth0", "link-local"},
	{"fec0::1", "site-local"}, {"feff::1", "site-local"},
	{"ff02::1", "multicast"}, {"ff0e::1", "multicast"}, {"ff05::1:3", "multicast"},
	{"4000::1", "reserved"}, {"5f00::1", "reserved"}, {"1fff::1", "reserved"},

	// NAT64: the embedded IPv4 address is judged; local-use NAT64 is refused.
	{"64:ff9b::a9fe:a9fe", "NAT64 address embedding a link-local"}, {"64:ff9b::7f00:1", "NAT64 address embedding a loopback"},
	{"64:ff9b::a01:203", "NAT64 address embedding a private"}, {"64:ff9b::c000:201", "NAT64 address embedding a documentation"},
	{"64:ff9b::6440:1", "NAT64 address embedding a shared"}, {"64:ff9b::0:0", "NAT64 address embedding the unspecified"},
	{"64:ff9b:1::a01:203", "local-use NAT64"}, {"64:ff9b:1::808:808", "local-use NAT64"},

	// Special-purpose space inside 2000::/3.
	{"2001::1", "Teredo"}, {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"}, {"2001:0:a9fe:a9fe::1", "Teredo"},
	{"2001:2::1", "benchmarking"}, {"2001:10::1", "IETF"}, {"2001:1ff::1", "IETF"},
	{"2001:db8::1", "documentation"}, {"2001:db8:ffff::1", "documentation"}, {"3fff::1", "documentation"}, {"3fff:fff::1", "documentation"},
	// 6to4 is refused whatever it embeds (RFC 7526 deprecated its relays).
	{"2002:a00:1::", "6to4"}, {"2002:7f00:1::1", "6to4"}, {"2002:a9fe:a9fe::1", "6to4"}, {"2002:808:808::1", "6to4"},
	{"2620:4f:8000::1", "reserved"},
	{"2606:4700::1111%eth0", "zone"},

	// Public addresses: allowed.
	{"8.8.8.8", ""}, {"1.1.1.1", ""}, {"2606:4700::1111", ""}, {"2001:4860:4860::8888", ""},
	{"100.128.0.1", ""}, {"172.32.0.1", ""}, {"198.20.0.1", ""}, {"192.0.3.1", ""}, {"223.255.255.254", ""},
	{"::ffff:8.8.8.8", ""}, {"64:ff9b::808:808", ""}, {"2001:200::1", ""}, {"3fff:1000::1", ""},
}

func TestGuardTable(t *testing.T) {
	t.Parallel()
	for _, tc := range guardCases {
		a := netip.MustParseAddr(tc.addr)
		err := providers.CheckAddress(a)
		if refused := err != nil; refused != (tc.kind != "") {
			t.Errorf("CheckAddress(%s) = %v; want refused: %v", tc.addr, err, tc.kind != "")
			continue
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, providers.ErrBlockedAddress) {
			t.Errorf("%s: %v is not ErrBlockedAddress", tc.addr, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.kind) || !strings.HasPrefix(msg, "refused to connect to ") {
			t.Errorf("%s: %q does not name %q", tc.addr, msg, tc.kind)
		}
		if form := addressIn(msg, a); form != "" {
			t.Errorf("%s: the refusal quotes the address (%s): %q", tc.addr, form, msg)
		}
	}
	if providers.CheckAddress(netip.Addr{}) == nil {
		t.Error("the zero Addr is not refused")
	}
}

// addressIn returns the form of a that msg quotes, or "".
func addressIn(msg string, a netip.Addr) string {
	b := a.WithZone("")
	forms := []string{a.String(), b.String(), b.StringExpanded(), b.Unmap().String(), netip.AddrFrom16(b.As16()).String()}
	// The low 32 bits, where IPv4-mapped, -compatible and NAT64 forms
	// keep an IPv4 address, as dotted octets and as IPv6 hex.
	b16 := b.As16()
	forms = append(forms, strconv.Itoa(int(b16[14]))+"."+strconv.Itoa(int(b16[15])),
		strconv.FormatUint(uint64(b16[12])<<8|uint64(b16[13]), 16)+":"+strconv.FormatUint(uint64(b16[14])<<8|uint64(b16[15]), 16))
	for _, f := range forms {
		if strings.Contains(msg, f) {
			return f
		}
	}
	return ""
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

// What a refusal says reaches check steps and last_error: it names the
// kind of address, never the address a name resolved to, on every path (the
// HTTP client, Describe, the raw dialer, a whole check over HTTP and one
// over the database dialer).
func TestRefusalNamesNoResolvedAddress(t *testing.T) {
	t.Parallel()
	answers := map[string]struct{ addr, kind string }{
		"intranet.test": {"10.1.2.3", "a private address"},
		"metadata.test": {"169.254.169.254", "a link-local address"},
		"mapped.test":   {"::ffff:127.0.0.1", "a loopback address"},
	}
	env := providers.NewEnv(providers.EnvOptions{Timeout: 2 * time.Second,
		Lookup: func(_ context.Context, host string) ([]string, error) {
			if a, ok := answers[host]; ok {
				return []string{a.addr}, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}})
	for host, answer := range answers {
		resolved := netip.MustParseAddr(answer.addr)
		var texts []string
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+host+"/feed", nil)
		_, err := env.HTTP.Do(req)
		cancel()
		if !errors.Is(err, providers.ErrBlockedAddress) {
			t.Errorf("%s: HTTP err = %v, want ErrBlockedAddress", host, err)
			continue
		}
		texts = append(texts, err.Error(), providers.Describe(err))
		if _, err := env.Dial(context.Background(), "tcp", net.JoinHostPort(host, "5432")); !errors.Is(err, providers.ErrBlockedAddress) {
			t.Errorf("%s: raw dial err = %v", host, err)
		} else {
			texts = append(texts, err.Error())
		}
		var blocked *providers.BlockedAddressError
		if _, err := env.Dial(context.Background(), "tcp", net.JoinHostPort(host, "443")); !errors.As(err, &blocked) || !strings.HasPrefix(blocked.Kind, answer.kind) {
			t.Errorf("%s: raw dial err = %#v, want the kind %q", host, err, answer.kind)
		}
		for _, res := range []providers.Result{
			run(t, "rss", rssConfig("http://"+host+"/feed", "", ""), env),
			run(t, "postgresql", providers.Config{"host": host, "port": float64(5432), "database": "x",
				"credentials": map[string]any{"type": "username_password", "username": "u", "password": "pw"}}, env),
		} {
			if res.Success || !strings.Contains(res.Message, "refused to connect") {
				t.Errorf("%s: check result %+v", host, res)
			}
			texts = append(texts, res.Message)
			for _, s := range res.Steps {
				texts = append(texts, s.Name, s.Message)
			}
		}
		for _, text := range texts {
			if form := addressIn(text, resolved); form != "" {
				t.Errorf("%s: %q quotes the resolved address (%s)", host, text, form)
			}
		}
		if !strings.Contains(texts[0], answer.kind) || !strings.Contains(texts[1], answer.kind) {
			t.Errorf("%s: %q / %q do not name %q", host, texts[0], texts[1], answer.kind)
		}
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
