package storage_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"keel.dev/keel/pkg/storage"
	"keel.dev/keel/pkg/storage/value"
)

func gcmProvider(t *testing.T, name string, b byte) value.Provider {
	t.Helper()
	c, err := value.NewAESGCM(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return value.NewProvider("aesgcm", name, c)
}

// under transforms the keys under prefix with t, others not at all.
func under(prefix string, t value.Transformer) storage.Transformers {
	return func(key string) value.Transformer {
		if strings.HasPrefix(key, prefix) {
			return t
		}
		return nil
	}
}

func TestTransformers(t *testing.T) {
	c, ctx := inProcessEtcd(t)

	key1, key2 := gcmProvider(t, "key1", 1), gcmProvider(t, "key2", 2)
	raw := storage.NewEtcd(c)
	enc := storage.NewEtcd(c)
	enc.SetTransformers(under("/enc/", value.Chain{key1}))

	w := enc.Watch(ctx, "/enc/", 0)
	defer w.Stop()
	if _, err := enc.Create(ctx, "/enc/a", []byte("secret-a")); err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Create(ctx, "/plain/b", []byte("open-b")); err != nil {
		t.Fatal(err)
	}
	stored, err := raw.Get(ctx, "/enc/a")
	if err != nil || !bytes.HasPrefix(stored.Value, []byte("k8s:enc:aesgcm:v1:key1:")) || bytes.Contains(stored.Value, []byte("secret-a")) {
		t.Fatalf("stored %q (%v)", stored.Value, err)
	}
	if plain, _ := raw.Get(ctx, "/plain/b"); string(plain.Value) != "open-b" {
		t.Fatalf("a key without transformer stored %q", plain.Value)
	}
	got, err := enc.Get(ctx, "/enc/a")
	if err != nil || string(got.Value) != "secret-a" || got.Stale {
		t.Fatalf("get: %+v %v", got, err)
	}
	rev, err := enc.Update(ctx, "/enc/a", got.ModRevision, []byte("secret-a2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Delete(ctx, "/enc/a", rev); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		typ storage.EventType
		val string
	}{{storage.EventPut, "secret-a"}, {storage.EventPut, "secret-a2"}, {storage.EventDelete, "secret-a2"}} {
		select {
		case ev := <-w.Events():
			if ev.Type != want.typ || string(ev.Value) != want.val {
				t.Fatalf("watch event %v %q, want %v %q", ev.Type, ev.Value, want.typ, want.val)
			}
		case <-ctx.Done():
			t.Fatal("no watch event")
		}
	}

	// Read by a non-first provider: stale.
	if _, err := enc.Create(ctx, "/enc/c", []byte("secret-c")); err != nil {
		t.Fatal(err)
	}
	rotated := storage.NewEtcd(c)
	rotated.SetTransformers(under("/enc/", value.Chain{key2, key1}))
	if got, err := rotated.Get(ctx, "/enc/c"); err != nil || !got.Stale || string(got.Value) != "secret-c" {
		t.Fatalf("read with the old key: %+v %v", got, err)
	}
	l, err := rotated.List(ctx, "/enc/", storage.ListOptions{})
	if err != nil || len(l.Items) != 1 || !l.Items[0].Stale || string(l.Items[0].Value) != "secret-c" {
		t.Fatalf("list with the old key: %+v %v", l, err)
	}

	// A value no provider reads fails Get, List and the watch that meets it.
	dropped := storage.NewEtcd(c)
	dropped.SetTransformers(under("/enc/", value.Chain{key2}))
	dw := dropped.Watch(ctx, "/enc/", l.Revision)
	defer dw.Stop()
	if _, err := dropped.Get(ctx, "/enc/c"); !errors.Is(err, storage.ErrTransform) || !strings.Contains(err.Error(), `"key1"`) {
		t.Fatalf("get of a value of a dropped key: %v", err)
	}
	if _, err := dropped.List(ctx, "/enc/", storage.ListOptions{}); !errors.Is(err, storage.ErrTransform) {
		t.Fatalf("list with a value of a dropped key: %v", err)
	}
	if _, err := enc.Create(ctx, "/enc/d", []byte("secret-d")); err != nil {
		t.Fatal(err)
	}
	for range dw.Events() {
		t.Fatal("the watch delivered a value it could not read")
	}
	if !errors.Is(dw.Err(), storage.ErrTransform) {
		t.Fatalf("watch ended with %v", dw.Err())
	}
}
