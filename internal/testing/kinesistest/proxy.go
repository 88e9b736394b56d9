package kinesistest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on loopback in front of a server, for tests of a server that cannot be
// reached: Cut drops every connection and refuses new ones (a server that went away without
// losing its streams, which a restarted kinesalite would), Restore lets them through again.
// Make one with StartProxy; it is safe for concurrent use and closed in t.Cleanup.
type Proxy struct {
	// Endpoint is the proxy's base URL, "http://127.0.0.1:PORT", to give clients instead of
	// the server's.
	Endpoint string

	target string // host:port
	ln     net.Listener
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		cut   bool
		conns map[net.Conn]struct{} // both ends of every open connection
	}
}

// StartProxy starts a proxy forwarding to the server at endpoint (an http:// base URL) and
// returns it. It fails the test if endpoint is not a URL or no loopback port is free.
func StartProxy(t testing.TB, endpoint string) *Proxy {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		t.Fatalf("kinesistest: proxy target %q is not a URL: %v", endpoint, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("kinesistest: proxy: %v", err)
	}
	p := &Proxy{Endpoint: "http://" + ln.Addr().String(), target: u.Host, ln: ln}
	p.mu.conns = map[net.Conn]struct{}{}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// Cut closes every connection through the proxy and makes it close new ones as soon as they
// are accepted, so calls fail at once with a connection reset or EOF.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.cut = true
	p.closeConnsLocked()
}

// Restore lets connections through again after Cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.cut = false
}

func (p *Proxy) closeConnsLocked() {
	for c := range p.mu.conns {
		_ = c.Close()
	}
	clear(p.mu.conns)
}

func (p *Proxy) close() {
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

// serve forwards one accepted connection to the target until either side closes it.
func (p *Proxy) serve(c net.Conn) {
	p.mu.Lock()
	cut := p.mu.cut
	p.mu.Unlock()
	if cut {
		_ = c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.mu.cut { // cut while dialling
		p.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	p.mu.conns[c], p.mu.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var copies sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src) // ends at EOF, or at a reset by Cut or the peer
		_ = dst.Close()
		_ = src.Close()
	}
	copies.Go(func() { pipe(up, c) })
	copies.Go(func() { pipe(c, up) })
	copies.Wait()
	p.mu.Lock()
	delete(p.mu.conns, c)
	delete(p.mu.conns, up)
	p.mu.Unlock()
}
