package apiserver_test

import (
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/storage"
)

// TestEventTTL: Events expire EventTTL after their last write (a watcher
// sees them deleted); objects of other kinds do not.
func TestEventTTL(t *testing.T) {
	t.Parallel()
	c := start(t, func(cfg *apiserver.Config) { cfg.EventTTL = 2 * time.Second })
	w, _ := syncedWatch[*corev1.Event](c, &apiv1.WatchRequest{Resource: "events", Namespace: "default"})
	cm := mustCreate(c, configMap("default", "stays", map[string]string{"k": "v"}))
	start := time.Now()
	ev := mustCreate(c, &corev1.Event{
		Metadata:       &metav1.ObjectMeta{Namespace: "default", Name: "web.1"},
		InvolvedObject: &corev1.ObjectReference{Kind: "ConfigMap", Namespace: "default", Name: cm.GetMetadata().GetName()},
		Reason:         "Test", Message: "expires", Type: "Normal", Count: 1,
	})
	w.expect("ADDED", "web.1")
	ev.Count = 2
	mustUpdate(c, ev)
	w.expect("MODIFIED", "web.1")
	w.expect("DELETED", "web.1")
	if d := time.Since(start); d < 2*time.Second {
		t.Fatalf("the event expired after %s, before its TTL", d)
	}
	if _, err := get[*corev1.Event](c, "default", "web.1"); !apierrors.IsNotFound(err) {
		t.Fatalf("expired event: %v, want NotFound", err)
	}
	mustGet[*corev1.ConfigMap](c, "default", "stays")
}

// TestEventTTLInvalid: a negative event TTL is refused.
func TestEventTTLInvalid(t *testing.T) {
	_, err := apiserver.New(apiserver.Config{Store: storage.NewEtcd(nil), EventTTL: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "event TTL must be positive") {
		t.Fatalf("New with a negative event TTL: %v, want an error naming it", err)
	}
}
