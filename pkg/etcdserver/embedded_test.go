package etcdserver_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keel.dev/keel/pkg/etcdserver"
)

// By default the member serves etcdctl on a socket inside its data
// directory, which only the directory's owner can traverse, and on no TCP
// port; it starts again over the socket a crashed member left behind.
func TestDefaultClientSocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	start := func() *etcdserver.Server {
		t.Helper()
		s, err := etcdserver.Start(etcdserver.Options{DataDir: dir, PeerURL: "http://127.0.0.1:0", UnsafeNoFsync: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := start()
	sock := etcdserver.DefaultSocket(dir)
	if want := "unix://" + sock; s.Endpoint != want {
		t.Fatalf("Endpoint = %q, want %q", s.Endpoint, want)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode %v, want 0700 (the socket is inside it)", perm)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, "/k", "v"); err != nil {
		t.Fatalf("put over the socket: %v", err)
	}
	c.Close()
	s.Close()

	// A socket file left behind (a member killed before it could remove
	// it) does not stop the next start.
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s = start()
	defer s.Close()
	c, err = clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Get(ctx, "/k")
	if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v" {
		t.Fatalf("get after restart: %v %v", r, err)
	}
}

func TestClientURLRelativeSocketRefused(t *testing.T) {
	_, err := etcdserver.Start(etcdserver.Options{DataDir: t.TempDir(), ClientURL: "unix://etcd.sock", PeerURL: "http://127.0.0.1:0"})
	if err == nil {
		t.Fatal("a relative socket path was accepted")
	}
}
