package connvaulttest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// FaultProxy stands between a server and the test database and can take
// the database away, as an outage would: Down closes every connection and
// refuses new ones (a stopped server), Hang keeps connections open but
// passes nothing either way (a server that stopped answering), Up restores
// service. Loopback only.
type FaultProxy struct {
	target string
	l      net.Listener

	mu    sync.Mutex
	state string // "up", "down", "hang"
	conns map[net.Conn]struct{}
	wake  *sync.Cond
}

// NewFaultProxy proxies to the host:port of the test database.
func NewFaultProxy(t testing.TB) *FaultProxy {
	t.Helper()
	u, err := url.Parse(DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{target: u.Host, l: l, state: "up", conns: map[net.Conn]struct{}{}}
	p.wake = sync.NewCond(&p.mu)
	t.Cleanup(func() {
		_ = l.Close()
		p.Up()
		p.closeAll()
	})
	go p.serve()
	return p
}

// URL is the test database's URL through the proxy.
func (p *FaultProxy) URL(t testing.TB) string {
	u, err := url.Parse(DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.l.Addr().String()
	return u.String()
}

// Down stops the database: open connections are cut, new ones refused.
func (p *FaultProxy) Down() { p.set("down"); p.closeAll() }

// Hang freezes the database: nothing passes until Up.
func (p *FaultProxy) Hang() { p.set("hang") }

// Up brings the database back.
func (p *FaultProxy) Up() { p.set("up") }

func (p *FaultProxy) set(state string) {
	p.mu.Lock()
	p.state = state
	p.mu.Unlock()
	p.wake.Broadcast()
}

func (p *FaultProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *FaultProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == "down" {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *FaultProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *FaultProxy) serve() {
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		if !p.track(client) {
			_ = client.Close()
			continue
		}
		go func() {
			server, err := net.Dial("tcp", p.target)
			if err != nil {
				p.untrack(client)
				return
			}
			if !p.track(server) {
				_ = server.Close()
				p.untrack(client)
				return
			}
			done := make(chan struct{}, 2)
			go func() { p.pipe(server, client); done <- struct{}{} }()
			go func() { p.pipe(client, server); done <- struct{}{} }()
			<-done
			p.untrack(client)
			p.untrack(server)
		}()
	}
}

// pipe copies in chunks, holding each chunk while the proxy hangs.
func (p *FaultProxy) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.state == "hang" {
				p.wake.Wait()
			}
			down := p.state == "down"
			p.mu.Unlock()
			if down {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
