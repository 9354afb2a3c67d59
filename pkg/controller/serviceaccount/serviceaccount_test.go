package serviceaccount_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/serviceaccount"
)

func TestDecide(t *testing.T) {
	ns := func(name string, terminating bool) *corev1.Namespace {
		n := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}, Status: &corev1.NamespaceStatus{Phase: api.NamespaceActive}}
		if terminating {
			n.Metadata.DeletionTimestamp = timestamppb.New(time.Unix(1, 0))
			n.Status.Phase = api.NamespaceTerminating
		}
		return n
	}
	sa := func(name string) *corev1.ServiceAccount {
		return &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "team"}}
	}
	for _, c := range []struct {
		name string
		ns   *corev1.Namespace
		have []*corev1.ServiceAccount
		want []string
	}{
		{"new namespace", ns("team", false), nil, []string{"team/default"}},
		{"others but no default", ns("team", false), []*corev1.ServiceAccount{sa("builder")}, []string{"team/default"}},
		{"default present", ns("team", false), []*corev1.ServiceAccount{sa("builder"), sa("default")}, nil},
		{"terminating", ns("team", true), nil, nil},
	} {
		var got []string
		for _, s := range serviceaccount.Decide(c.ns, c.have) {
			got = append(got, s.GetMetadata().GetNamespace()+"/"+s.GetMetadata().GetName())
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: create %v, want %v", c.name, got, c.want)
		}
	}
}

// TestDefaultServiceAccount: a new namespace gets "default", and a deleted
// one comes back.
func TestDefaultServiceAccount(t *testing.T) {
	e := controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		ctl := serviceaccount.New(c, f, nil)
		return func(ctx context.Context) { ctl.Run(ctx, 2) }
	})
	c, ctx := e.Client, e.Ctx
	if _, err := c.Namespaces().Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sas := client.For[*corev1.ServiceAccount](c, "team")
	var first string
	e.Eventually("the default service account created", func() error {
		sa, err := sas.Get(ctx, "default")
		if err != nil {
			return err
		}
		first = sa.GetMetadata().GetUid()
		return nil
	})
	if _, _, err := sas.Delete(ctx, "default", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Eventually("the default service account created again", func() error {
		sa, err := sas.Get(ctx, "default")
		if err != nil {
			return err
		}
		if sa.GetMetadata().GetUid() == first {
			return fmt.Errorf("still the deleted one")
		}
		return nil
	})
	// Every namespace the apiserver creates at start has one too.
	e.Eventually("kube-system's default service account", func() error {
		_, err := client.For[*corev1.ServiceAccount](c, "kube-system").Get(ctx, "default")
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("not yet")
		}
		return err
	})
}
