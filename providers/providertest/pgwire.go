package providertest

import (
	"encoding/binary"
	"io"
	"net"
	"sync/atomic"
)

// PGWire is a PostgreSQL server double that refuses every connection with
// an ErrorResponse whose SQLSTATE and message are the bytes it was given,
// as a broken or hostile server might send (not UTF-8, NUL included).
type PGWire struct {
	Addr  *net.TCPAddr
	Conns atomic.Int64
}

// NewPGWire listens on loopback until the test ends.
func NewPGWire(t TB, sqlstate, message string) *PGWire {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	d := &PGWire{Addr: l.Addr().(*net.TCPAddr)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			d.Conns.Add(1)
			go refuse(c, sqlstate, message)
		}
	}()
	return d
}

func refuse(c net.Conn, sqlstate, message string) {
	defer c.Close()
	for {
		// Startup packet: int32 length, then the rest. An SSLRequest
		// (80877103) is answered 'N' (no TLS) and followed by the real one.
		var hdr [8]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[:4]))
		if n < 8 || n > 1<<16 {
			return
		}
		if _, err := io.CopyN(io.Discard, c, int64(n-8)); err != nil {
			return
		}
		if binary.BigEndian.Uint32(hdr[4:]) == 80877103 {
			if _, err := c.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		}
		break
	}
	body := []byte{}
	for _, f := range []struct {
		code byte
		val  string
	}{{'S', "FATAL"}, {'V', "FATAL"}, {'C', sqlstate}, {'M', message}} {
		body = append(body, f.code)
		body = append(body, f.val...)
		body = append(body, 0)
	}
	body = append(body, 0)
	msg := []byte{'E', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(msg[1:], uint32(len(body)+4))
	_, _ = c.Write(append(msg, body...))
}
