package namespace_test

import (
	"context"
	"fmt"
	"testing"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/namespace"
)

// TestDeletedNamespaceIsEmptiedAndRemoved: deleting a namespace deletes
// its pods, config maps and secrets, leaves other namespaces alone, and
// then the namespace itself goes.
func TestDeletedNamespaceIsEmptiedAndRemoved(t *testing.T) {
	e := controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		ctl := namespace.New(c, f, nil)
		return func(ctx context.Context) { ctl.Run(ctx, 2) }
	})
	c, ctx := e.Client, e.Ctx
	for _, ns := range []string{"doomed", "kept"} {
		e.Namespace(ns)
		if _, err := c.Pods(ns).Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p"},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "cm"}}, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Secrets(ns).Create(ctx, &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "s"}}, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := c.Namespaces().Delete(ctx, "doomed", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Eventually("the deleted namespace removed", func() error {
		_, err := c.Namespaces().Get(ctx, "doomed")
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("namespace doomed: %v", err)
	})
	for _, get := range []func(ns string) error{
		func(ns string) error { _, err := c.Pods(ns).Get(ctx, "p"); return err },
		func(ns string) error { _, err := c.ConfigMaps(ns).Get(ctx, "cm"); return err },
		func(ns string) error { _, err := c.Secrets(ns).Get(ctx, "s"); return err },
	} {
		if err := get("doomed"); !apierrors.IsNotFound(err) {
			t.Errorf("content of the deleted namespace: %v, want NotFound", err)
		}
		if err := get("kept"); err != nil {
			t.Errorf("content of another namespace: %v", err)
		}
	}
}
