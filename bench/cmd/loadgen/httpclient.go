package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// rawClient is the load generator's HTTP/1.1 client: keep-alive
// connections, one request at a time on each, the request written in one
// call and the answer read through one buffer. The load generator shares
// the two cores with the server and Postgres, so what it spends per request
// is taken from them: net/http's client spent about 39 µs of CPU per GET by
// id here (wrk, which the targets were first measured with, a fraction of
// that). It speaks only what the server answers: Content-Length or chunked
// bodies, and Connection: close.
type rawClient struct {
	addr string // host:port
	idle chan *rawConn
}

type rawConn struct {
	net.Conn
	r   *bufio.Reader
	buf []byte
}

func newRawClient(baseURL string, maxIdle int) *rawClient {
	return &rawClient{addr: strings.TrimPrefix(baseURL, "http://"), idle: make(chan *rawConn, maxIdle)}
}

// do sends one request and reads the whole answer, returning its status.
func (c *rawClient) do(ctx context.Context, method, path, bearer string, body []byte) (int, error) {
	conn, err := c.conn(ctx)
	if err != nil {
		return 0, err
	}
	b := conn.buf[:0]
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.addr...)
	b = append(b, "\r\nAuthorization: Bearer "...)
	b = append(b, bearer...)
	if body != nil {
		b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
	}
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	conn.buf = b
	if _, err := conn.Write(b); err != nil {
		conn.Close()
		return 0, err
	}
	status, keep, err := readResponse(conn.r)
	if err != nil {
		conn.Close()
		return 0, err
	}
	if !keep {
		conn.Close()
		return status, nil
	}
	select {
	case c.idle <- conn:
	default:
		conn.Close()
	}
	return status, nil
}

func (c *rawClient) conn(ctx context.Context) (*rawConn, error) {
	select {
	case conn := <-c.idle:
		return conn, nil
	default:
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	return &rawConn{Conn: nc, r: bufio.NewReaderSize(nc, 64<<10), buf: make([]byte, 0, 4096)}, nil
}

func (c *rawClient) close() {
	for {
		select {
		case conn := <-c.idle:
			conn.Close()
		default:
			return
		}
	}
}

var errMalformed = errors.New("malformed HTTP answer")

// readResponse reads one answer: its status, whether the connection stays
// open, and its body (discarded).
func readResponse(r *bufio.Reader) (status int, keepAlive bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	length, chunked := -1, false
	keepAlive = true
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("%w: header %q", errMalformed, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, false, fmt.Errorf("%w: content-length %q", errMalformed, value)
			}
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = asciiEqualFold(value, "chunked")
		case asciiEqualFold(name, "connection"):
			keepAlive = !asciiEqualFold(value, "close")
		}
	}
	switch {
	case chunked:
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return 0, false, err
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
			if err != nil {
				return 0, false, fmt.Errorf("%w: chunk size %q", errMalformed, line)
			}
			if size == 0 {
				break
			}
			if _, err := r.Discard(int(size) + 2); err != nil {
				return 0, false, err
			}
		}
		for { // trailers, then the blank line
			line, err := r.ReadSlice('\n')
			if err != nil {
				return 0, false, err
			}
			if len(line) <= 2 {
				break
			}
		}
	case length >= 0:
		if _, err := r.Discard(length); err != nil {
			return 0, false, err
		}
	default:
		return 0, false, fmt.Errorf("%w: neither Content-Length nor chunked", errMalformed)
	}
	return status, keepAlive, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
