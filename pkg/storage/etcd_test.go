package storage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keel.dev/keel/pkg/etcdserver"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/storage"
)

// TestEtcd runs each case over a client dialled to the member's https://
// URL with a client certificate (mutual TLS), as keel-apiserver reaches an
// external etcd, and over the member's in-process
// client, as it reaches its embedded one.
func TestEtcd(t *testing.T) {
	cases := []struct {
		name string
		f    func(*testing.T, *storage.Etcd, context.Context)
	}{
		{"CreateGetUpdateDelete", testCreateGetUpdateDelete},
		{"SideKeysCommitOrFailWithTheMainKey", testSideKeysCommitOrFailWithTheMainKey},
		{"ListPagesAtOneSnapshot", testListPagesAtOneSnapshot},
		{"WatchDeliversInOrderAndReportsCompaction", testWatchDeliversInOrderAndReportsCompaction},
		{"ProgressOnRequest", testProgressOnRequest},
	}
	for _, inProcess := range []bool{false, true} {
		client := map[bool]string{false: "dialled", true: "in-process"}[inProcess]
		for _, c := range cases {
			t.Run(client+"/"+c.name, func(t *testing.T) {
				s, ctx := newStore(t, inProcess)
				c.f(t, s, ctx)
			})
		}
	}
}

func newStore(t *testing.T, inProcess bool) (*storage.Etcd, context.Context) {
	t.Helper()
	if inProcess {
		c, ctx := inProcessEtcd(t)
		return storage.NewEtcd(c), ctx
	}
	pkiDir := t.TempDir()
	if _, err := pki.Init(pki.InitOptions{Dir: pkiDir, Hostname: "localhost"}); err != nil {
		t.Fatal(err)
	}
	srv, err := etcdserver.Start(etcdserver.Options{DataDir: t.TempDir(), ClientURL: "https://127.0.0.1:0", ClientTLS: etcdserver.ServingFiles(pkiDir), UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	tc, err := pki.ClientTLSConfig(etcdserver.ServingFiles(pkiDir).TrustedCAFile,
		pki.CertPath(pkiDir, pki.APIServerEtcdClientName), pki.KeyPath(pkiDir, pki.APIServerEtcdClientName), "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := storage.Dial([]string{srv.Endpoint}, tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return storeOn(t, c)
}

// inProcessEtcd starts an embedded member for the test and returns its
// in-process client and a context that ends with the test (30s at most).
func inProcessEtcd(t *testing.T) (*clientv3.Client, context.Context) {
	t.Helper()
	srv, err := etcdserver.Start(etcdserver.Options{DataDir: t.TempDir(), UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c := srv.Client()
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c, ctx
}

func storeOn(t *testing.T, c *clientv3.Client) (*storage.Etcd, context.Context) {
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return storage.NewEtcd(c), ctx
}

func testCreateGetUpdateDelete(t *testing.T, s *storage.Etcd, ctx context.Context) {
	rev, err := s.Create(ctx, "/k/a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "/k/a", []byte("2")); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	kv, err := s.Get(ctx, "/k/a")
	if err != nil || string(kv.Value) != "1" || kv.ModRevision != rev || kv.CreateRevision != rev {
		t.Fatalf("get = %+v, %v", kv, err)
	}
	rev2, err := s.Update(ctx, "/k/a", rev, []byte("2"))
	if err != nil || rev2 <= rev {
		t.Fatalf("update: %d, %v", rev2, err)
	}
	if _, err := s.Update(ctx, "/k/a", rev, []byte("3")); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("update at a stale revision: %v, want ErrConflict", err)
	}
	if _, err := s.Delete(ctx, "/k/a", rev); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("delete at a stale revision: %v, want ErrConflict", err)
	}
	if kv, _ := s.Get(ctx, "/k/a"); string(kv.Value) != "2" {
		t.Fatalf("failed writes changed the value to %q", kv.Value)
	}
	if _, err := s.Delete(ctx, "/k/a", rev2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "/k/a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if _, err := s.Update(ctx, "/k/a", rev2, []byte("x")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("update of a missing key: %v, want ErrNotFound", err)
	}
	if _, err := s.Delete(ctx, "/k/a", 0); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("delete of a missing key: %v, want ErrNotFound", err)
	}
}

func testSideKeysCommitOrFailWithTheMainKey(t *testing.T, s *storage.Etcd, ctx context.Context) {
	if _, err := s.Create(ctx, "/side/ip1", []byte("other")); err != nil {
		t.Fatal(err)
	}
	_, err := s.Create(ctx, "/k/svc", []byte("v"), storage.Side{Key: "/side/port9", Value: []byte("svc")}, storage.Side{Key: "/side/ip1", Value: []byte("svc")})
	var side *storage.SideKeyConflictError
	if !errors.As(err, &side) || side.Key != "/side/ip1" || !errors.Is(err, storage.ErrSideKeyExists) {
		t.Fatalf("create with a taken side key: %v", err)
	}
	for _, k := range []string{"/k/svc", "/side/port9"} {
		if _, err := s.Get(ctx, k); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("%s written by a failed transaction: %v", k, err)
		}
	}
	rev, err := s.Create(ctx, "/k/svc", []byte("v"), storage.Side{Key: "/side/ip2", Value: []byte("svc")})
	if err != nil {
		t.Fatal(err)
	}
	// Update swaps the allocation; delete releases it.
	rev, err = s.Update(ctx, "/k/svc", rev, []byte("v2"), storage.Side{Key: "/side/ip3", Value: []byte("svc")}, storage.Side{Key: "/side/ip2", Delete: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "/side/ip2"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("released side key still there: %v", err)
	}
	if _, err := s.Delete(ctx, "/k/svc", rev, storage.Side{Key: "/side/ip3", Delete: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "/side/ip3"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("side key survived its object's delete: %v", err)
	}
}

func testListPagesAtOneSnapshot(t *testing.T, s *storage.Etcd, ctx context.Context) {
	for i := range 10 {
		if _, err := s.Create(ctx, fmt.Sprintf("/p/%02d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, "/q/outside", []byte("v")); err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctx, "/p/", storage.ListOptions{Limit: 4})
	if err != nil || len(page.Items) != 4 || !page.More || page.Items[0].Key != "/p/00" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	// A write after the first page is not in the snapshot.
	if _, err := s.Create(ctx, "/p/05a", []byte("late")); err != nil {
		t.Fatal(err)
	}
	var keys []string
	opts := storage.ListOptions{Revision: page.Revision, StartKey: page.Items[3].Key + "\x00", Limit: 4}
	for {
		p, err := s.List(ctx, "/p/", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range p.Items {
			keys = append(keys, kv.Key)
		}
		if !p.More {
			break
		}
		opts.StartKey = p.Items[len(p.Items)-1].Key + "\x00"
	}
	if fmt.Sprint(keys) != "[/p/04 /p/05 /p/06 /p/07 /p/08 /p/09]" {
		t.Fatalf("later pages = %v", keys)
	}
}

func testWatchDeliversInOrderAndReportsCompaction(t *testing.T, s *storage.Etcd, ctx context.Context) {
	start, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := s.Create(ctx, "/w/a", []byte("1"))
	r2, _ := s.Update(ctx, "/w/a", r1, []byte("2"))
	r3, _ := s.Delete(ctx, "/w/a", r2)
	w := s.Watch(ctx, "/w/", start)
	defer w.Stop()
	want := []string{fmt.Sprintf("put /w/a=1 @%d", r1), fmt.Sprintf("put /w/a=2 @%d", r2), fmt.Sprintf("delete /w/a=2 @%d", r3)}
	for _, exp := range want {
		var ev storage.Event
		for {
			ev = <-w.Events()
			if ev.Type != storage.EventProgress {
				break
			}
		}
		typ := map[storage.EventType]string{storage.EventPut: "put", storage.EventDelete: "delete"}[ev.Type]
		if got := fmt.Sprintf("%s %s=%s @%d", typ, ev.Key, ev.Value, ev.ModRevision); got != exp {
			t.Fatalf("got %q, want %q", got, exp)
		}
	}

	if err := s.Compact(ctx, r3); err != nil {
		t.Fatal(err)
	}
	old := s.Watch(ctx, "/w/", start)
	defer old.Stop()
	for range old.Events() {
	}
	if !errors.Is(old.Err(), storage.ErrCompacted) {
		t.Fatalf("watch from a compacted revision ended with %v, want ErrCompacted", old.Err())
	}
	if _, err := s.List(ctx, "/w/", storage.ListOptions{Revision: start}); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("list at a compacted revision: %v, want ErrCompacted", err)
	}
}

// testProgressOnRequest: a watch on a quiet prefix reports, when asked,
// that it has seen every change up to the current revision (what the watch
// cache's consistent reads wait for). The member's own periodic
// notifications come every 5s, so one within 3s answers a request.
func testProgressOnRequest(t *testing.T, s *storage.Etcd, ctx context.Context) {
	w := s.Watch(ctx, "/quiet/", 0)
	defer w.Stop()
	rev, err := s.Create(ctx, "/elsewhere/x", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	// Requests made before the watch stream is up are lost: repeat them.
	ask := time.NewTicker(50 * time.Millisecond)
	defer ask.Stop()
	deadline := time.After(3 * time.Second)
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("watch ended: %v", w.Err())
			}
			if ev.Type != storage.EventProgress {
				t.Fatalf("event %+v on a quiet prefix", ev)
			}
			if ev.ModRevision >= rev {
				return
			}
		case <-ask.C:
			if err := w.RequestProgress(ctx); err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatal("no progress notification at the current revision within 3s of asking")
		}
	}
}

func TestUnreachableEtcdIsUnavailable(t *testing.T) {
	srv, err := etcdserver.Start(etcdserver.Options{DataDir: t.TempDir(), UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := storage.Dial([]string{srv.Endpoint}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv.Close()
	s := storage.NewEtcd(c)
	s.RequestTimeout = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err = s.Create(ctx, "/k/x", []byte("v")); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("create with etcd down: %v, want ErrUnavailable", err)
	}
	if _, err = s.Get(ctx, "/k/x"); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("get with etcd down: %v, want ErrUnavailable", err)
	}
}

// TestTTL: a key written under WithTTL expires (and its watch sees the
// delete); a key written without it stays; writes of one TTL share a lease.
func TestTTL(t *testing.T) {
	c, ctx := inProcessEtcd(t)
	s := storage.NewEtcd(c)

	rev, err := s.Create(ctx, "/k/stays", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	w := s.Watch(ctx, "/k/", rev)
	defer w.Stop()
	ttlCtx := storage.WithTTL(ctx, 2*time.Second)
	for i := range 5 {
		if _, err := s.Create(ttlCtx, fmt.Sprintf("/k/expires-%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	kv, err := s.Get(ctx, "/k/expires-0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ttlCtx, "/k/expires-0", kv.ModRevision, []byte("y")); err != nil {
		t.Fatal(err)
	}
	leases, err := c.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(leases.Leases) != 1 {
		t.Fatalf("%d leases for six writes of one TTL, want 1", len(leases.Leases))
	}

	deleted := map[string]bool{}
	deadline := time.After(15 * time.Second)
	for len(deleted) < 5 {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("watch ended: %v", w.Err())
			}
			if ev.Type == storage.EventDelete {
				deleted[ev.Key] = true
			}
		case <-deadline:
			t.Fatalf("after 15s only %v expired", deleted)
		}
	}
	if deleted["/k/stays"] {
		t.Fatal("the key without a TTL expired")
	}
	if _, err := s.Get(ctx, "/k/stays"); err != nil {
		t.Fatalf("the key without a TTL: %v", err)
	}
	if _, err := s.Get(ctx, "/k/expires-1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("expired key: %v, want ErrNotFound", err)
	}

	// A lease etcd lost is replaced.
	hourCtx := storage.WithTTL(ctx, time.Hour)
	if _, err := s.Create(hourCtx, "/k/before-revoke", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if leases, err = c.Leases(ctx); err != nil || len(leases.Leases) != 1 {
		t.Fatalf("leases %v %v, want one", leases, err)
	}
	if _, err := c.Revoke(ctx, leases.Leases[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(hourCtx, "/k/after-revoke", []byte("x")); err != nil {
		t.Fatalf("write after the lease was revoked: %v", err)
	}
}
