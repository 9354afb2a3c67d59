package resourcequota_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	apiextv1 "keel.dev/keel/pkg/apis/apiextensions/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/customresources"
	"keel.dev/keel/pkg/controller/resourcequota"
	"keel.dev/keel/pkg/manifest"
	_ "keel.dev/keel/pkg/registry/all"
	"keel.dev/keel/pkg/scheme"
)

func q(s string) *metav1.Quantity { return &metav1.Quantity{String_: s} }

func pod(name string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	hard := map[string]*metav1.Quantity{"pods": q("3"), "count/configmaps": q("2")}
	failed := pod("failed")
	failed.Status = &corev1.PodStatus{Phase: api.PodFailed}
	objs := []proto.Message{pod("a"), failed, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "cm"}}}
	for _, tc := range []struct {
		name   string
		status *corev1.ResourceQuotaStatus
		want   map[string]string // nil: no change
	}{
		{"new quota", nil, map[string]string{"pods": "1", "count/configmaps": "1"}},
		{"overcharged", &corev1.ResourceQuotaStatus{Hard: hard, Used: map[string]*metav1.Quantity{"pods": q("3"), "count/configmaps": q("1")}},
			map[string]string{"pods": "1", "count/configmaps": "1"}},
		{"up to date (by value)", &corev1.ResourceQuotaStatus{Hard: map[string]*metav1.Quantity{"pods": q("3000m"), "count/configmaps": q("2")},
			Used: map[string]*metav1.Quantity{"pods": q("1"), "count/configmaps": q("1")}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := resourcequota.Decide(&corev1.ResourceQuota{Spec: &corev1.ResourceQuotaSpec{Hard: hard}, Status: tc.status}, objs, now)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if st != nil {
					t.Fatalf("status %v, want no change", st)
				}
				return
			}
			if st == nil {
				t.Fatal("no change, want one")
			}
			for name, w := range tc.want {
				if got := st.GetUsed()[name].GetString_(); got != w {
					t.Errorf("used[%s] = %s, want %s", name, got, w)
				}
			}
			if got := st.GetHard()["pods"].GetString_(); got != "3" {
				t.Errorf("hard[pods] = %s", got)
			}
		})
	}
}

// TestReleasesUsage: deleting a pod, or its finishing, releases its
// usage at once (the resync is an hour away), so that a create the quota
// refused is admitted again; so does deleting an object of another
// counted kind, or an update that uses less (a LoadBalancer Service
// turned ClusterIP). The controller runs as resourcequota-controller
// under Node,RBAC.
func TestReleasesUsage(t *testing.T) {
	e := controllertest.StartAs(t, "resourcequota-controller", func(c *client.Client, f *informer.Factory) func(context.Context) {
		ctl := resourcequota.New(c, f, time.Hour, nil)
		return func(ctx context.Context) { ctl.Run(ctx, 1) }
	})
	quotas := client.For[*corev1.ResourceQuota](e.Client, "default")
	if _, err := quotas.Create(e.Ctx, &corev1.ResourceQuota{Metadata: &metav1.ObjectMeta{Name: "q", Namespace: "default"},
		Spec: &corev1.ResourceQuotaSpec{Hard: map[string]*metav1.Quantity{"pods": q("2")}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	used := func(quotaName, resource, want string) {
		t.Helper()
		e.Eventually("quota "+quotaName+" used "+resource+"="+want, func() error {
			rq, err := quotas.Get(e.Ctx, quotaName)
			if err != nil {
				return err
			}
			if got := rq.GetStatus().GetUsed()[resource].GetString_(); got != want {
				return fmt.Errorf("used %s %q", resource, got)
			}
			return nil
		})
	}
	usedPods := func(want string) { t.Helper(); used("q", "pods", want) }
	usedPods("0") // the controller fills in a new quota's status
	pods := e.Client.Pods("default")
	for _, name := range []string{"a", "b"} {
		if _, err := pods.Create(e.Ctx, pod(name), client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pods.Create(e.Ctx, pod("c"), client.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "exceeded quota: q") {
		t.Fatalf("third pod: %v, want exceeded quota", err)
	}
	if _, _, err := pods.Delete(e.Ctx, "a", client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	usedPods("1")
	if _, err := pods.Create(e.Ctx, pod("c"), client.CreateOptions{}); err != nil {
		t.Fatalf("create after the delete: %v", err)
	}
	b, err := pods.Get(e.Ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	b.Status = &corev1.PodStatus{Phase: api.PodFailed}
	if _, err := pods.UpdateStatus(e.Ctx, b, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	usedPods("1") // a failed pod counts no more

	if _, err := quotas.Create(e.Ctx, &corev1.ResourceQuota{Metadata: &metav1.ObjectMeta{Name: "objects", Namespace: "default"},
		Spec: &corev1.ResourceQuotaSpec{Hard: map[string]*metav1.Quantity{"count/configmaps": q("1"), "services.loadbalancers": q("1")}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	used("objects", "count/configmaps", "0")
	cms := e.Client.ConfigMaps("default")
	cm := func(name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}}
	}
	if _, err := cms.Create(e.Ctx, cm("a"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(e.Ctx, cm("b"), client.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "exceeded quota: objects") {
		t.Fatalf("second ConfigMap: %v, want exceeded quota", err)
	}
	if _, _, err := cms.Delete(e.Ctx, "a", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	used("objects", "count/configmaps", "0")
	if _, err := cms.Create(e.Ctx, cm("b"), client.CreateOptions{}); err != nil {
		t.Fatalf("ConfigMap after the delete: %v", err)
	}

	svcs := e.Client.Services("default")
	lb := func(name string) *corev1.Service {
		return &corev1.Service{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: &corev1.ServiceSpec{Type: "LoadBalancer", Ports: []*corev1.ServicePort{{Name: "http", Port: 80}}}}
	}
	first, err := svcs.Create(e.Ctx, lb("first"), client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svcs.Create(e.Ctx, lb("second"), client.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "exceeded quota: objects") {
		t.Fatalf("second LoadBalancer: %v, want exceeded quota", err)
	}
	first.Spec.Type = "ClusterIP"
	if _, err := svcs.Update(e.Ctx, first, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	used("objects", "services.loadbalancers", "0")
	if _, err := svcs.Create(e.Ctx, lb("second"), client.CreateOptions{}); err != nil {
		t.Fatalf("LoadBalancer after the first turned ClusterIP: %v", err)
	}
}

// TestCountsCustomResources: a quota counts a custom resource kind
// (count/<plural>.<group>) once its definition is served: a create over
// the limit is refused, and deleting one releases it at once (the
// controller watches the kind as the controller-manager follows it). The
// controller runs as resourcequota-controller under Node,RBAC.
func TestCountsCustomResources(t *testing.T) {
	e := controllertest.StartAs(t, "resourcequota-controller", func(c *client.Client, f *informer.Factory) func(context.Context) {
		ctl := resourcequota.New(c, f, time.Hour, nil)
		customresources.Follow(f, nil, ctl.Watch)
		return func(ctx context.Context) { ctl.Run(ctx, 1) }
	})
	objs, err := manifest.Decode("crd.yaml", []byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, properties: {spec: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*apiextv1.CustomResourceDefinition](e.Client, "").Create(e.Ctx, objs[0].Message.(*apiextv1.CustomResourceDefinition), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var widgets *client.Resource[scheme.Object]
	e.Eventually("widgets served", func() error {
		k, ok := scheme.ByResource("widgets.example.com")
		if !ok {
			return fmt.Errorf("no kind widgets.example.com")
		}
		widgets = client.ForKind(e.Client, k, "default")
		_, err := widgets.List(e.Ctx, client.ListOptions{})
		return err
	})
	widget := func(name string) scheme.Object {
		k, _ := scheme.ByResource("widgets.example.com")
		w := k.New().(*apiextv1.CustomResource)
		w.Metadata = &metav1.ObjectMeta{Name: name, Namespace: "default"}
		return w
	}

	quotas := client.For[*corev1.ResourceQuota](e.Client, "default")
	if _, err := quotas.Create(e.Ctx, &corev1.ResourceQuota{Metadata: &metav1.ObjectMeta{Name: "q", Namespace: "default"},
		Spec: &corev1.ResourceQuotaSpec{Hard: map[string]*metav1.Quantity{"count/widgets.example.com": q("1")}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	used := func(want string) {
		t.Helper()
		e.Eventually("count/widgets.example.com used "+want, func() error {
			rq, err := quotas.Get(e.Ctx, "q")
			if err != nil {
				return err
			}
			if got := rq.GetStatus().GetUsed()["count/widgets.example.com"].GetString_(); got != want {
				return fmt.Errorf("used %q", got)
			}
			return nil
		})
	}
	used("0")
	if _, err := widgets.Create(e.Ctx, widget("a"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := widgets.Create(e.Ctx, widget("b"), client.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "exceeded quota: q") {
		t.Fatalf("second widget: %v, want exceeded quota", err)
	}
	used("1")
	if _, _, err := widgets.Delete(e.Ctx, "a", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	used("0")
	if _, err := widgets.Create(e.Ctx, widget("b"), client.CreateOptions{}); err != nil {
		t.Fatalf("widget after the delete: %v", err)
	}
}
