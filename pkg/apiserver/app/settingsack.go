package app

import (
	"encoding/binary"
	"io"
	"net"
)

// HTTP/2 framing (RFC 9113): the client connection preface, then frames,
// each behind a 9-byte header: length (24 bits), type, flags, stream.
const (
	http2PrefaceLen     = 24
	http2FrameHeaderLen = 9
	http2FrameHeaders   = 0x1
	http2FrameSettings  = 0x4
	http2FlagAck        = 0x1
)

// http2Request matches an HTTP/2 connection (one that starts with the
// client preface) that sent a request, a HEADERS frame, while it was being
// matched. It reads frames until the first HEADERS frame, and fails on
// anything else: a connection that is not HTTP/2, or one that sent no
// request before the matching read timed out (see serveSecure).
func http2Request(r io.Reader) bool {
	preface := make([]byte, http2PrefaceLen)
	if _, err := io.ReadFull(r, preface); err != nil || string(preface) != "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" {
		return false
	}
	h := make([]byte, http2FrameHeaderLen)
	for {
		if _, err := io.ReadFull(r, h); err != nil {
			return false
		}
		if h[3] == http2FrameHeaders {
			return true
		}
		length := int64(h[0])<<16 | int64(h[1])<<8 | int64(h[2])
		if _, err := io.CopyN(io.Discard, r, length); err != nil {
			return false
		}
	}
}

// settingsAckListener wraps the HTTP/2 connections that matching sent a
// SETTINGS frame to (those that turned out not to be gRPC: they start
// with the client preface) in a settingsAckFilter.
type settingsAckListener struct{ net.Listener }

func (l settingsAckListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &settingsAckFilter{Conn: c, preface: http2PrefaceLen}, nil
}

// settingsAckFilter hides from the HTTP/2 server the client's
// acknowledgement of the SETTINGS frame that cmux sent while matching
// (see serveSecure): the server did not send it, and takes an
// acknowledgement of settings it never sent as a protocol error. The
// first SETTINGS frame with the ACK flag that the client sends is that
// one (a client acknowledges settings in the order it receives them);
// the filter drops it and passes every other byte through unchanged. (A
// client that sent several SETTINGS frames while the connection was being
// matched gets as many from cmux; the later acknowledgements still reach
// the server, which then closes the connection: no known client does
// this.) It is read by one goroutine, as net/http reads a connection.
type settingsAckFilter struct {
	net.Conn
	preface int    // bytes of the client preface still to pass
	body    int    // bytes of the current frame's payload still to pass
	header  []byte // a frame header read but not yet passed
	done    bool   // the acknowledgement was dropped: pass everything
}

func (f *settingsAckFilter) Read(p []byte) (int, error) {
	for !f.done && f.preface == 0 && f.body == 0 && len(f.header) == 0 {
		h := make([]byte, http2FrameHeaderLen)
		if _, err := io.ReadFull(f.Conn, h); err != nil {
			return 0, err
		}
		length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		if h[3] == http2FrameSettings && h[4]&http2FlagAck != 0 && length == 0 && binary.BigEndian.Uint32(h[5:])&0x7fffffff == 0 {
			f.done = true
			break
		}
		f.header, f.body = h, length
	}
	switch {
	case len(f.header) > 0:
		n := copy(p, f.header)
		f.header = f.header[n:]
		return n, nil
	case f.preface > 0:
		n, err := f.Conn.Read(p[:min(len(p), f.preface)])
		f.preface -= n
		return n, err
	case f.body > 0:
		n, err := f.Conn.Read(p[:min(len(p), f.body)])
		f.body -= n
		return n, err
	}
	return f.Conn.Read(p)
}
