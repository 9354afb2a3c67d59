package registrytest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"keel.dev/keel/pkg/testimages"
	"keel.dev/keel/pkg/testutil"
)

func TestConfig(t *testing.T) {
	got := string(Config("/tmp/x/storage", "127.0.0.1:5000"))
	for _, want := range []string{`rootdirectory: "/tmp/x/storage"`, `addr: "127.0.0.1:5000"`, "version: 0.1"} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
}

// TestPush starts a real registry and pushes the busybox image to it.
func TestPush(t *testing.T) {
	if _, err := os.Stat(testimages.DefaultBusyboxPath); err != nil {
		testutil.Missing(t, fmt.Sprintf("busybox-static not installed (hack/install-deps.sh): %v", err))
	}
	r := New(t)
	img, err := testimages.Busybox("")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ref, err := r.Push(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if want := r.Addr + "/busybox:1.35"; ref != want {
		t.Errorf("pushed as %s, want %s", ref, want)
	}
	ok, err := r.HasManifest(ctx, "busybox", "1.35")
	if err != nil || !ok {
		t.Fatalf("HasManifest = %v, %v", ok, err)
	}
	if ok, _ := r.HasManifest(ctx, "busybox", "nope"); ok {
		t.Error("HasManifest found a tag never pushed")
	}
	// Pushing again is a no-op that succeeds.
	if _, err := r.Push(ctx, img); err != nil {
		t.Fatal(err)
	}
}
