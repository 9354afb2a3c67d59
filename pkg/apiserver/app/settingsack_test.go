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
