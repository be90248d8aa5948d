package providers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// EnvOptions configure NewEnv.
type EnvOptions struct {
	// AllowPrivateNetworks lets checks dial loopback, private and link-local
	// addresses: for local development and tests only.
	AllowPrivateNetworks bool
	// Timeout caps one outbound call (default 10s); the check's own
	// deadline on ctx usually ends it first.
	Timeout time.Duration
	// Endpoints override provider base and token URLs.
	Endpoints map[string]string
	// InsecureSkipVerify turns off TLS verification (verify_ssl=false is
	// handled per check; this is for test doubles with self-signed certs).
	InsecureSkipVerify bool
	// AWS is the server's own AWS identity (see Env.AWS).
	AWS AWSCredentials
	// LoopbackOnly is for tests: checks may dial only loopback addresses
	// and resolve only "localhost", so no test can send a packet (not even
	// a DNS query) off this machine.
	LoopbackOnly bool
	// Lookup replaces the resolver (nil: LookupHost). Tests use it to make
	// a name resolve to a forbidden address, as a rebinding DNS server
	// would, and see the guard refuse the answer.
	Lookup func(ctx context.Context, host string) ([]string, error)
}

// errOffMachine is what LoopbackOnly answers for anything else.
var errOffMachine = errors.New("test environment: only loopback addresses may be dialed")

// maxRedirects bounds how many same-host redirects a check follows.
const maxRedirects = 3

// NewEnv builds the Env every check uses in production: one HTTP client and
// one dialer, both behind the SSRF guard.
func NewEnv(opts EnvOptions) Env {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	dialer := GuardedDialer(opts.AllowPrivateNetworks)
	lookup := LookupHost
	if opts.Lookup != nil {
		lookup = opts.Lookup
	}
	if opts.LoopbackOnly {
		lookup = func(ctx context.Context, host string) ([]string, error) {
			if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
				return []string{host}, nil
			}
			if host == "localhost" {
				return []string{"127.0.0.1"}, nil
			}
			return nil, &net.DNSError{Err: "no such host (tests resolve only localhost)", Name: host, IsNotFound: true}
		}
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ip, perr := netip.ParseAddr(host)
		if perr == nil {
			if !opts.AllowPrivateNetworks && Blocked(ip) {
				return nil, ErrBlockedAddress
			}
			if opts.LoopbackOnly && !ip.Unmap().IsLoopback() {
				return nil, errOffMachine
			}
			return dialer.DialContext(ctx, network, addr)
		}
		addrs, err := lookup(ctx, host)
		if err != nil {
			return nil, err
		}
		// Try each address in turn; the guard checks each one as it dials.
		var firstErr error
		for _, a := range addrs {
			conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(a, port))
			if err == nil {
				return conn, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return nil, firstErr
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would dial on our behalf, past the guard
		DialContext:           dial,
		TLSHandshakeTimeout:   opts.Timeout,
		ResponseHeaderTimeout: opts.Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: opts.InsecureSkipVerify}, //nolint:gosec // opt-in for doubles
	}
	client := &http.Client{
		Transport:     transport,
		Timeout:       opts.Timeout,
		CheckRedirect: checkRedirect,
	}
	return Env{HTTP: client, Dial: dial, Lookup: lookup, Endpoints: opts.Endpoints, AWS: opts.AWS}
}

// checkRedirect follows at most maxRedirects redirects, each to the host
// the check was pointed at and never from https down to http: a provider
// answer must not steer a check (and its credentials) somewhere else.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	first := via[0].URL
	if !strings.EqualFold(req.URL.Host, first.Host) {
		return errors.New("refused to follow a redirect to another host")
	}
	if first.Scheme == "https" && req.URL.Scheme != "https" {
		return errors.New("refused to follow a redirect from https to http")
	}
	return nil
}

// IsReservedInvalid reports names under the .invalid top-level domain,
// which RFC 6761 reserves to never resolve: they are answered "no such
// host" without asking any DNS server.
func IsReservedInvalid(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "invalid" || strings.HasSuffix(h, ".invalid")
}

// LookupHost resolves host, answering names under .invalid locally.
func LookupHost(ctx context.Context, host string) ([]string, error) {
	if _, err := netip.ParseAddr(host); err == nil {
		return []string{host}, nil
	}
	if IsReservedInvalid(host) {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return net.DefaultResolver.LookupHost(ctx, host)
}

// GuardedDialer returns a dialer that checks every resolved IP right before
// connecting (in Control, after DNS), so a name that resolves, or later
// re-resolves, to a forbidden address cannot pass: the refusal happens
// before any packet is sent.
func GuardedDialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if allowPrivate {
		return d
	}
	d.Control = func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: unparsable address", ErrBlockedAddress)
		}
		if Blocked(ap.Addr()) {
			return ErrBlockedAddress
		}
		return nil
	}
	return d
}

// reserved are ranges netip has no predicate for that never hold a public
// endpoint: "this network" (which Linux routes to the host itself), CGNAT
// (RFC 6598, inside providers' networks), IETF protocol assignments,
// benchmarking, the reserved class E with broadcast, and IPv6 site-local.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("fec0::/10"),
}

// Prefixes whose IPv6 addresses carry an IPv4 address that a gateway
// (NAT64, 6to4) would dial for us: the embedded address is judged instead.
var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour  = netip.MustParsePrefix("2002::/16")
)

// Blocked reports whether an address is one a check must not dial without
// AllowPrivateNetworks: loopback, private, link-local (which holds cloud
// metadata at 169.254.169.254), unspecified, multicast, CGNAT or otherwise
// reserved, including IPv4-mapped, NAT64 and 6to4 forms of those.
func Blocked(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() {
		return true
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return true
		}
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return Blocked(netip.AddrFrom4([4]byte(b[12:16])))
	case nat64Local.Contains(a):
		// RFC 8215 leaves the embedding to the operator: refuse the range.
		return true
	case sixToFour.Contains(a):
		return Blocked(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return false
}

// DialContext is a helper for checks that need a raw connection.
func (e Env) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if e.Dial == nil {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return e.Dial(ctx, network, addr)
}
