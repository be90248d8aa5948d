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
		Transport: transport,
		Timeout:   opts.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return errors.New("too many redirects")
			}
			if req.URL.Host != via[0].URL.Host {
				return errors.New("refused to follow a redirect to another host")
			}
			return nil
		},
	}
	return Env{HTTP: client, Dial: dial, Lookup: lookup, Endpoints: opts.Endpoints, AWS: opts.AWS}
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

// cgnat is the shared address space of RFC 6598, used inside providers'
// networks and never a public endpoint.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Blocked reports whether an address is one a check must not dial without
// AllowPrivateNetworks: loopback, private, link-local (which holds cloud
// metadata at 169.254.169.254), unspecified, multicast or CGNAT, including
// their IPv4-mapped IPv6 forms.
func Blocked(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || cgnat.Contains(a) ||
		!a.IsValid()
}

// DialContext is a helper for checks that need a raw connection.
func (e Env) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if e.Dial == nil {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return e.Dial(ctx, network, addr)
}
