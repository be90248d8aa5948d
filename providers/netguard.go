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

	"code.dny.dev/ssrf"
	"github.com/connvault/connvault"
)

// EnvOptions configure NewEnv.
type EnvOptions struct {
	// AllowPrivateNetworks lets checks dial any address, loopback, private
	// and link-local included: for local development and tests only.
	AllowPrivateNetworks bool
	// Timeout caps one outbound call (default
	// connvault.DefaultCheckTimeout); the check's own deadline on ctx
	// usually ends it first.
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
		opts.Timeout = connvault.DefaultCheckTimeout
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
			if !opts.AllowPrivateNetworks {
				if err := CheckAddress(ip); err != nil {
					return nil, err
				}
			}
			if opts.LoopbackOnly && !ip.Unmap().IsLoopback() {
				return nil, errOffMachine
			}
			conn, err := dialer.DialContext(ctx, network, addr)
			return conn, withoutAddress(err)
		}
		addrs, err := lookup(ctx, host)
		if err != nil {
			return nil, err
		}
		// Try each address in turn; the guard checks each one as it dials.
		// A refusal is returned without the address the name resolved to.
		var firstErr error
		for _, a := range addrs {
			conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(a, port))
			if err == nil {
				return conn, nil
			}
			if firstErr == nil {
				firstErr = withoutAddress(err)
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

// isReservedInvalid reports names under the .invalid top-level domain,
// which RFC 6761 reserves to never resolve: they are answered "no such
// host" without asking any DNS server.
func isReservedInvalid(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "invalid" || strings.HasSuffix(h, ".invalid")
}

// LookupHost resolves host, answering names under .invalid locally.
func LookupHost(ctx context.Context, host string) ([]string, error) {
	if _, err := netip.ParseAddr(host); err == nil {
		return []string{host}, nil
	}
	if isReservedInvalid(host) {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return net.DefaultResolver.LookupHost(ctx, host)
}

// dialTimeout caps one connection attempt of the guarded dialer, which
// knows no check's deadline; the deadline on ctx usually ends it first.
const dialTimeout = 10 * time.Second

// GuardedDialer returns a dialer that checks every resolved IP right before
// connecting (in Control, after DNS), so a name that resolves, or later
// re-resolves, to a forbidden address cannot pass: the refusal happens
// before any packet is sent.
func GuardedDialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	if allowPrivate {
		return d
	}
	d.Control = func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &BlockedAddressError{Kind: "an address connvault cannot parse"}
		}
		return CheckAddress(ap.Addr())
	}
	return d
}

// guardian is the allow-list: an IPv4 address passes unless IANA's
// special-purpose registry (or multicast, or class E) holds it, an IPv6
// address only inside global unicast 2000::/3 and outside that registry's
// entries there (Teredo and the rest of 2001::/23, 6to4, documentation).
// Only its address judgement is used: checks dial databases on any port.
var guardian = ssrf.New(ssrf.WithAnyNetwork(), ssrf.WithAnyPort())

// nat64 is the well-known NAT64 prefix: DNS64 on an IPv6-only host
// answers every IPv4-only name with it, and the gateway dials the
// embedded IPv4 address for us, so that address is what gets judged.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// kinds name refused ranges for the refusal's message, most specific
// first. They only name: whether an address is refused is decided by the
// allow-list (and by netip's predicates, as a second opinion) in
// CheckAddress, so a range missing here is still refused, as "reserved".
var kinds = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "the unspecified address or \"this network\""},
	{netip.MustParsePrefix("::/128"), "the unspecified address or \"this network\""},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("fc00::/7"), "a private (unique local) address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address (cloud metadata services answer there)"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("3fff::/20"), "a documentation address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("2001:2::/48"), "a benchmarking address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
	{netip.MustParsePrefix("255.255.255.255/32"), "the broadcast address"},
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible IPv6 address"},
	{netip.MustParsePrefix("2001::/32"), "a Teredo address"},
	{netip.MustParsePrefix("2002::/16"), "a 6to4 address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local-use NAT64 address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an address reserved for IETF protocols"},
	{netip.MustParsePrefix("2001::/23"), "an address reserved for IETF protocols"},
}

// ErrBlockedAddress is what every refusal of the SSRF guard matches
// (errors.Is): a dial to anything but a public internet address while
// private networks are not allowed. Its text names no address.
var ErrBlockedAddress = errors.New("refused to connect: the address is not a public internet address (set CONNVAULT_ALLOW_PRIVATE_NETWORKS=true to allow)")

// BlockedAddressError is the guard's refusal: errors.Is(err,
// ErrBlockedAddress) holds for it. It says what kind of address was
// refused and never which one: the address a name resolved to is not the
// user's to learn (a check must not become a way to map the network), and
// this text reaches check steps and last_error.
type BlockedAddressError struct {
	// Kind names the range with its article, e.g. "a loopback address".
	Kind string
}

func (e *BlockedAddressError) Error() string {
	return "refused to connect to " + e.Kind + ": connvault connects only to public internet addresses (set CONNVAULT_ALLOW_PRIVATE_NETWORKS=true to allow the others)"
}

// Is makes errors.Is(err, ErrBlockedAddress) hold.
func (e *BlockedAddressError) Is(target error) bool { return target == ErrBlockedAddress }

// blockedMessage is what a check says when the guard refused its dial: the
// kind of address refused, never the address nor the URL around it.
func blockedMessage(err error) string {
	var blocked *BlockedAddressError
	if errors.As(err, &blocked) {
		return blocked.Error()
	}
	return ErrBlockedAddress.Error()
}

// CheckAddress is the guard's judgement: nil for a globally routable
// unicast address, a *BlockedAddressError for anything else. IPv4-mapped
// addresses are judged as the IPv4 address the kernel would dial, and a
// NAT64 (64:ff9b::/96) address as the IPv4 address it embeds.
func CheckAddress(a netip.Addr) error {
	if kind := refusedKind(a); kind != "" {
		return &BlockedAddressError{Kind: kind}
	}
	return nil
}

// refusedKind names what kind of address a is, or "" for one the allow-list
// lets through.
func refusedKind(a netip.Addr) string {
	if !a.IsValid() {
		return "an invalid address"
	}
	zoned := a.Zone() != ""
	a = a.WithZone("").Unmap()
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		if kind := refusedKind(netip.AddrFrom4([4]byte(b[12:16]))); kind != "" {
			return "a NAT64 address embedding " + kind
		}
		return ""
	}
	// The allow-list decides; netip's predicates are a second opinion that
	// keeps the basic ranges refused whatever a later list says.
	refused := guardian.SafeAddr(a) != nil || !a.IsGlobalUnicast() || a.IsPrivate() ||
		a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified()
	if !refused && !zoned {
		return ""
	}
	for _, k := range kinds {
		if k.prefix.Contains(a) {
			return k.kind
		}
	}
	if !refused {
		// Only link-local addresses need a zone; no public endpoint has one.
		return "a scoped IPv6 address (one with a zone)"
	}
	return "a reserved address"
}

// withoutAddress strips what the dialer wrapped around a refusal
// (*net.OpError quotes the address it refused) and keeps the rest.
func withoutAddress(err error) error {
	var blocked *BlockedAddressError
	if errors.As(err, &blocked) {
		return blocked
	}
	return err
}

// DialContext is a helper for checks that need a raw connection.
func (e Env) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if e.Dial == nil {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return e.Dial(ctx, network, addr)
}
