package server_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"keel.dev/keel/pkg/kubelet/server/streamtest"
	"keel.dev/keel/pkg/pki"
)

// upgrade asks the kubelet for an upgrade of path as the key pair name.
func (k *kubelet) upgrade(t *testing.T, name, path string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	tc, err := pki.ClientTLSConfig(pki.CertPath(k.pkiDir, pki.CAName), pki.CertPath(k.pkiDir, name), pki.KeyPath(k.pkiDir, name), "node-1")
	if err != nil {
		t.Fatal(err)
	}
	return streamtest.Upgrade(t, k.addr, tc, path)
}

func TestStreamingEndpoint(t *testing.T) {
	k := startKubelet(t)
	up, paths := streamtest.EchoServer(t)
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
		streamtest.Echoes(t, path, c, br)
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
