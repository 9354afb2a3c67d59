// Package streamtest helps tests of streaming sessions (exec, attach,
// port-forward): a stand-in for the runtime's streaming server and a
// client that asks for an upgrade.
package streamtest

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// EchoServer stands in for the runtime's streaming server: it accepts
// any upgrade and echoes the upgraded connection. Each request's path is
// sent on paths (buffered; unread paths are dropped). The server stops
// with the test.
func EchoServer(t testing.TB) (srv *httptest.Server, paths <-chan string) {
	ch := make(chan string, 16)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case ch <- r.URL.Path:
		default:
		}
		if r.Header.Get("Upgrade") == "" {
			http.Error(w, "upgrade required", http.StatusBadRequest)
			return
		}
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + r.Header.Get("Upgrade") + "\r\n\r\n")
		rw.Flush()
		io.Copy(c, rw)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

// Upgrade asks addr (TLS with tc, over HTTP/1.1) for a SPDY upgrade of a
// POST to path. It returns the answer and, on 101, the connection to
// write to and a reader of what comes back; the connection is closed
// with the test.
func Upgrade(t testing.TB, addr string, tc *tls.Config, path string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	tc = tc.Clone()
	tc.NextProtos = []string{"http/1.1"}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	req, err := http.NewRequest(http.MethodPost, "https://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
	req.Header.Set("X-Stream-Protocol-Version", "v4.channel.k8s.io")
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, c, br
}

// Echoes fails the test unless what is written to w comes back on r.
func Echoes(t testing.TB, what string, w io.Writer, r io.Reader) {
	t.Helper()
	if _, err := w.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(r, b); err != nil || string(b) != "ping" {
		t.Errorf("%s: echoed %q, %v", what, b, err)
	}
}
