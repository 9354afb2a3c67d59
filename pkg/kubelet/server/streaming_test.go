package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"keel.dev/keel/pkg/pki"
)

// upstream is a stand-in for the runtime's streaming server: it accepts
// any upgrade and echoes the upgraded connection; paths receives each
// request's path.
func upstream(t *testing.T) (*httptest.Server, chan string) {
	paths := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.Path
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
	return srv, paths
}

// upgrade sends an upgrade request for path to the kubelet as the key
// pair name over HTTP/1.1; it returns the response and, on 101, the
// upgraded connection.
func (k *kubelet) upgrade(t *testing.T, name, path string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	tc, err := pki.ClientTLSConfig(pki.CertPath(k.pkiDir, pki.CAName), pki.CertPath(k.pkiDir, name), pki.KeyPath(k.pkiDir, name), "node-1")
	if err != nil {
		t.Fatal(err)
	}
	tc.NextProtos = []string{"http/1.1"}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", k.addr, tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	req, _ := http.NewRequest(http.MethodPost, "https://node-1"+path, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
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

func TestStreamingEndpoint(t *testing.T) {
	k := startKubelet(t)
	up, paths := upstream(t)
	k.rt.StreamURL = up.URL + "/exec/token"
	sbs, err := k.rt.ListPodSandbox(context.Background(), nil)
	if err != nil || len(sbs) != 1 {
		t.Fatalf("sandboxes: %v, %v", sbs, err)
	}
	k.pods.mu.Lock()
	k.pods.sandboxes = map[string]string{"ns/web": sbs[0].Id}
	k.pods.mu.Unlock()

	// The apiserver's session reaches the runtime's URL, upgraded both
	// ways.
	for _, path := range []string{
		"/exec/ns/web/app?command=cat&stdin=true&stdout=true",
		"/attach/ns/web/app?stdout=true&tty=true&stderr=true",
		"/portForward/ns/web",
	} {
		resp, c, br := k.upgrade(t, pki.APIServerKubeletClientName, path)
		if resp.StatusCode != http.StatusSwitchingProtocols {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s: %s %s", path, resp.Status, b)
		}
		if got := <-paths; got != "/exec/token" {
			t.Errorf("%s reached the runtime at %q", path, got)
		}
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
			t.Errorf("%s: echoed %q, %v", path, buf, err)
		}
	}
	for _, m := range []string{"Exec", "Attach", "PortForward"} {
		if n := k.rt.CallCount(m); n != 1 {
			t.Errorf("CRI %s called %d times, want 1", m, n)
		}
	}

	// Refusals, with Kubernetes' codes; the runtime is not asked.
	for _, c := range []struct {
		who, path string
		code      int
	}{
		{pki.SchedulerName, "/exec/ns/web/app?command=cat&stdout=true", http.StatusForbidden},
		{pki.KubeletClientName("node-1"), "/portForward/ns/web", http.StatusForbidden},
		{pki.APIServerKubeletClientName, "/exec/ns/web/app?stdout=true", http.StatusBadRequest},
		{pki.APIServerKubeletClientName, "/exec/ns/web/app?command=cat", http.StatusBadRequest},
		{pki.APIServerKubeletClientName, "/exec/ns/web/app?command=cat&stdin=maybe", http.StatusBadRequest},
		{pki.APIServerKubeletClientName, "/exec/ns/web/nope?command=cat&stdout=true", http.StatusNotFound},
		{pki.APIServerKubeletClientName, "/portForward/ns/nope", http.StatusNotFound},
	} {
		resp, _, _ := k.upgrade(t, c.who, c.path)
		if resp.StatusCode != c.code {
			b, _ := io.ReadAll(resp.Body)
			t.Errorf("%s %s: %s %s, want %d", c.who, c.path, resp.Status, b, c.code)
		}
	}
	if n := k.rt.CallCount("Exec"); n != 1 {
		t.Errorf("refused requests reached the runtime: Exec called %d times", n)
	}
}
