package app

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// readerConn is a net.Conn whose reads come from r.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func frame(typ, flags byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags, 0, 0, 0, 0}, payload...)
}

// TestSettingsAckFilter: the client's first SETTINGS acknowledgement is
// dropped, every other byte (preface, frames, a later acknowledgement)
// passes unchanged, whatever the read sizes.
func TestSettingsAckFilter(t *testing.T) {
	preface := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	settings := frame(0x4, 0, []byte{0, 3, 0, 0, 0, 100})
	// A DATA frame whose payload looks like a SETTINGS ack header: only
	// frame boundaries count.
	data := frame(0x0, 0, frame(0x4, 0x1, nil))
	ack := frame(0x4, 0x1, nil)
	headers := frame(0x1, 0x4, []byte("headers"))
	in := bytes.Join([][]byte{preface, settings, data, ack, headers, ack}, nil)
	want := bytes.Join([][]byte{preface, settings, data, headers, ack}, nil)
	for _, size := range []int{1, 5, 9, 64, 4096} {
		f := &settingsAckFilter{Conn: readerConn{r: bytes.NewReader(in)}, preface: http2PrefaceLen}
		var got []byte
		buf := make([]byte, size)
		for {
			n, err := f.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read size %d: %v", size, err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("read size %d:\n got %q\nwant %q", size, got, want)
		}
	}
}

// TestHTTP2Request: an HTTP/2 connection matches once it sent a HEADERS
// frame; one that only sent its preface and settings (a gRPC client that
// connected ahead of its first call), or that is not HTTP/2, does not.
func TestHTTP2Request(t *testing.T) {
	preface := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	settings := frame(0x4, 0, []byte{0, 3, 0, 0, 0, 100})
	window := frame(0x8, 0, []byte{0, 0, 1, 0})
	headers := frame(0x1, 0x4, []byte("headers"))
	for _, tc := range []struct {
		name string
		in   []byte
		want bool
	}{
		{"a request", bytes.Join([][]byte{preface, settings, window, headers}, nil), true},
		{"no request yet", bytes.Join([][]byte{preface, settings, window}, nil), false},
		{"a frame cut short", bytes.Join([][]byte{preface, settings[:10]}, nil), false},
		{"HTTP/1.1", []byte("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), false},
	} {
		if got := http2Request(bytes.NewReader(tc.in)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
