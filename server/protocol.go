package server

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/connvault/connvault/gen"
)

// AnswerProtocolErrorsInEnvelope wraps the listener the HTTP server serves
// on so that the answers net/http writes by itself, before any handler
// runs (400 for a malformed request, 431 for oversized headers, 501 for an
// unsupported transfer encoding), come in the error envelope too. net/http
// offers no hook for them: it writes each as one plain-text response
// straight to the connection, which is what this recognises and rewrites.
// Handlers never answer text/plain, so nothing else matches.
func AnswerProtocolErrorsInEnvelope(l net.Listener) net.Listener { return protocolListener{l} }

type protocolListener struct{ net.Listener }

func (l protocolListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return protocolConn{c}, nil
}

type protocolConn struct{ net.Conn }

// netHTTPErrorHeaders is what net/http puts between the status line and
// the text of its own error answers.
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c protocolConn) Write(p []byte) (int, error) {
	if rewritten, ok := envelopeProtocolError(p); ok {
		if _, err := c.Conn.Write(rewritten); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func envelopeProtocolError(p []byte) ([]byte, bool) {
	const prefix = "HTTP/1.1 "
	// Cheap first: every answer starts with the prefix, but only net/http's
	// own error answers have its plain-text headers right after the status
	// line (a short one: "431 Request Header Fields Too Large").
	if !bytes.HasPrefix(p, []byte(prefix)) {
		return nil, false
	}
	head := p[len(prefix):min(len(p), len(prefix)+64+len(netHTTPErrorHeaders))]
	end := bytes.Index(head, []byte(netHTTPErrorHeaders))
	if end < 3 || bytes.Contains(head[:end], []byte("\r\n")) {
		return nil, false
	}
	statusLine := string(head[:end])
	code, err := strconv.Atoi(statusLine[:3])
	if err != nil || code < 400 {
		return nil, false
	}
	typ, ok := errorTypes[code]
	if !ok {
		typ = gen.ErrorBodyTypeBadRequestError
	}
	msg := strings.ToLower(http.StatusText(code))
	if code == http.StatusBadRequest {
		msg = "malformed HTTP request"
	}
	body, _ := json.Marshal(gen.ErrorResponse{Success: false, Status: code, Error: gen.ErrorBody{Type: typ, Message: msg}})
	out := prefix + statusLine + "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
	return []byte(out), true
}
