package endpoints_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/endpoints"
)

func start(t *testing.T, workers int) *controllertest.Env {
	return controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		ctl := endpoints.New(c, f, nil)
		return func(ctx context.Context) { ctl.Run(ctx, workers) }
	})
}

// pod creates a pod with labels and a container port named http, then
// gives it an IP (and readiness) as a kubelet would; ip "" leaves it
// without.
func pod(t *testing.T, e *controllertest.Env, name string, labels map[string]string, ip string, ready bool) {
	t.Helper()
	p, err := e.Client.Pods("default").Create(e.Ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox",
			Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ip == "" {
		return
	}
	status := map[bool]string{true: api.ConditionTrue, false: api.ConditionFalse}[ready]
	p.Status = &corev1.PodStatus{Phase: api.PodRunning, PodIp: ip,
		Conditions: []*corev1.PodCondition{{Type: api.PodReady, Status: status, LastTransitionTime: timestamppb.Now()}}}
	if _, err := e.Client.Pods("default").UpdateStatus(e.Ctx, p, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// describe renders Endpoints as "ready|notready|ports" per subset.
func describe(ep *corev1.Endpoints) string {
	var parts []string
	for _, s := range ep.GetSubsets() {
		var r, nr, ps []string
		for _, a := range s.GetAddresses() {
			r = append(r, a.GetIp()+"="+a.GetTargetRef().GetName())
		}
		for _, a := range s.GetNotReadyAddresses() {
			nr = append(nr, a.GetIp()+"="+a.GetTargetRef().GetName())
		}
		for _, p := range s.GetPorts() {
			ps = append(ps, fmt.Sprintf("%s:%d/%s", p.GetName(), p.GetPort(), p.GetProtocol()))
		}
		parts = append(parts, strings.Join(r, ",")+"|"+strings.Join(nr, ",")+"|"+strings.Join(ps, ","))
	}
	return strings.Join(parts, " ; ")
}

func (want endpointsWant) check(e *controllertest.Env) func() error {
	return func() error {
		ep, err := e.Client.Endpoints("default").Get(e.Ctx, "web")
		if err != nil {
			return err
		}
		if got := describe(ep); got != string(want) {
			return fmt.Errorf("endpoints %q, want %q", got, want)
		}
		return nil
	}
}

type endpointsWant string

func TestEndpointsFollowPods(t *testing.T) {
	e := start(t, 2)
	web := map[string]string{"app": "web"}
	pod(t, e, "a", web, "10.244.0.11", true)
	pod(t, e, "b", web, "10.244.0.12", false)
	pod(t, e, "no-ip", web, "", false)
	pod(t, e, "other", map[string]string{"app": "db"}, "10.244.0.13", true)
	_, err := e.Client.Services("default").Create(e.Ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web", Labels: map[string]string{"tier": "front"}},
		Spec: &corev1.ServiceSpec{Selector: web, Ports: []*corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: &metav1.IntOrString{Type: 1, StrVal: "http"}},
			{Name: "metrics", Port: 9090, TargetPort: &metav1.IntOrString{IntVal: 9091}},
		}}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.Eventually("endpoints of the ready and unready pods", endpointsWant(
		"10.244.0.11=a|10.244.0.12=b|http:8080/TCP,metrics:9091/TCP").check(e))
	ep, _ := e.Client.Endpoints("default").Get(e.Ctx, "web")
	if ep.GetMetadata().GetLabels()["tier"] != "front" {
		t.Errorf("endpoints labels %v, want the service's", ep.GetMetadata().GetLabels())
	}

	zero := int64(0)
	if _, _, err := e.Client.Pods("default").Delete(e.Ctx, "a", client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	e.Eventually("a deleted pod leaves", endpointsWant("|10.244.0.12=b|http:8080/TCP,metrics:9091/TCP").check(e))

	if _, _, err := e.Client.Services("default").Delete(e.Ctx, "web", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Eventually("a deleted service's endpoints deleted", func() error {
		_, err := e.Client.Endpoints("default").Get(e.Ctx, "web")
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("endpoints web: %v", err)
	})
}

func TestServiceWithoutSelectorKeepsItsEndpoints(t *testing.T) {
	e := start(t, 1)
	manual := &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Name: "external"}, Subsets: []*corev1.EndpointSubset{{
		Addresses: []*corev1.EndpointAddress{{Ip: "192.0.2.10"}}, Ports: []*corev1.EndpointPort{{Port: 5432, Protocol: api.ProtocolTCP}}}}}
	if _, err := e.Client.Endpoints("default").Create(e.Ctx, manual, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.Services("default").Create(e.Ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "external"},
		Spec: &corev1.ServiceSpec{Ports: []*corev1.ServicePort{{Port: 5432}}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// One worker takes keys in order: once a later service's endpoints are
	// written, "external" has been synced, and must be untouched.
	web := map[string]string{"app": "web"}
	pod(t, e, "a", web, "10.244.0.11", true)
	if _, err := e.Client.Services("default").Create(e.Ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web"},
		Spec: &corev1.ServiceSpec{Selector: web, Ports: []*corev1.ServicePort{{Name: "http", Port: 80}}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Eventually("the selector service's endpoints", endpointsWant("10.244.0.11=a||http:80/TCP").check(e))
	ep, err := e.Client.Endpoints("default").Get(e.Ctx, "external")
	if err != nil || len(ep.GetSubsets()) != 1 || ep.GetSubsets()[0].GetAddresses()[0].GetIp() != "192.0.2.10" {
		t.Fatalf("the user's endpoints changed: %v %v", ep, err)
	}
}
