package endpointslice_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/endpointslice"
)

func start(t *testing.T, maxPerSlice int) *controllertest.Env {
	return controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		ctl := endpointslice.New(c, f, maxPerSlice, nil)
		return func(ctx context.Context) { ctl.Run(ctx, 2) }
	})
}

// pod creates a pod labelled app=web on node n1, then gives it an IP and
// readiness as a kubelet would.
func pod(t *testing.T, e *controllertest.Env, name, ip string, ready bool) {
	t.Helper()
	p, err := e.Client.Pods("default").Create(e.Ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{NodeName: "n1", Containers: []*corev1.Container{{Name: "c", Image: "busybox",
			Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setReady(t, e, p, ip, ready)
}

func setReady(t *testing.T, e *controllertest.Env, p *corev1.Pod, ip string, ready bool) {
	t.Helper()
	status := map[bool]string{true: api.ConditionTrue, false: api.ConditionFalse}[ready]
	p.Status = &corev1.PodStatus{Phase: api.PodRunning, PodIp: ip,
		Conditions: []*corev1.PodCondition{{Type: api.PodReady, Status: status, LastTransitionTime: timestamppb.Now()}}}
	if _, err := e.Client.Pods("default").UpdateStatus(e.Ctx, p, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func service(t *testing.T, e *controllertest.Env) {
	t.Helper()
	if _, err := e.Client.Services("default").Create(e.Ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web"},
		Spec: &corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []*corev1.ServicePort{{Name: "http", Port: 80, TargetPort: &metav1.IntOrString{Type: 1, StrVal: "http"}}}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func webSlices(e *controllertest.Env) ([]*discoveryv1.EndpointSlice, error) {
	l, err := client.For[*discoveryv1.EndpointSlice](e.Client, "default").List(e.Ctx, client.ListOptions{LabelSelector: api.LabelServiceName + "=web"})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// describe renders the Service's endpoints as sorted
// "ip=pod:ready/serving/terminating@node/zone" entries.
func describe(ss []*discoveryv1.EndpointSlice) string {
	var out []string
	for _, s := range ss {
		for _, e := range s.GetEndpoints() {
			c := e.GetConditions()
			out = append(out, fmt.Sprintf("%s=%s:%v/%v/%v@%s/%s", e.GetAddresses()[0], e.GetTargetRef().GetName(),
				c.GetReady(), c.GetServing(), c.GetTerminating(), e.GetNodeName(), e.GetZone()))
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func TestSlicesFollowPods(t *testing.T) {
	e := start(t, 0)
	if _, err := e.Client.Nodes().Create(e.Ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1",
		Labels: map[string]string{api.LabelTopologyZone: "zone-a"}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	service(t, e)
	pod(t, e, "a", "10.1.0.1", true)
	pod(t, e, "b", "10.1.0.2", false)
	want := func(what, d string) {
		t.Helper()
		e.Eventually(what, func() error {
			ss, err := webSlices(e)
			if err != nil {
				return err
			}
			if got := describe(ss); got != d {
				return fmt.Errorf("endpoints %q, want %q", got, d)
			}
			for _, s := range ss {
				if p := s.GetPorts(); len(p) != 1 || p[0].GetPort() != 8080 || p[0].GetName() != "http" || p[0].GetProtocol() != api.ProtocolTCP {
					return fmt.Errorf("slice %s ports %v", s.GetMetadata().GetName(), p)
				}
				if s.GetMetadata().GetLabels()[api.LabelManagedBy] != api.EndpointSliceControllerName {
					return fmt.Errorf("slice %s labels %v", s.GetMetadata().GetName(), s.GetMetadata().GetLabels())
				}
			}
			return nil
		})
	}
	want("one slice with a ready and an unready pod",
		"10.1.0.1=a:true/true/false@n1/zone-a 10.1.0.2=b:false/false/false@n1/zone-a")

	// b turns ready; a is deleted and terminates (its node's kubelet has
	// not removed it yet): not ready, still serving, terminating.
	b, err := e.Client.Pods("default").Get(e.Ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	setReady(t, e, b, "10.1.0.2", true)
	if _, _, err := e.Client.Pods("default").Delete(e.Ctx, "a", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want("a terminating, b ready",
		"10.1.0.1=a:false/true/true@n1/zone-a 10.1.0.2=b:true/true/false@n1/zone-a")

	// The Service's deletion takes its slices with it.
	if _, _, err := e.Client.Services("default").Delete(e.Ctx, "web", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Eventually("no slices left", func() error {
		ss, err := webSlices(e)
		if err == nil && len(ss) > 0 {
			err = fmt.Errorf("%d slices left", len(ss))
		}
		return err
	})
}

// TestOneChangeRewritesOneSlice: with 35 endpoints in slices of at most
// 10, one pod turning unready changes one slice only; the others keep
// their resourceVersion.
func TestOneChangeRewritesOneSlice(t *testing.T) {
	e := start(t, 10)
	service(t, e)
	for i := range 35 {
		pod(t, e, fmt.Sprintf("p%02d", i), fmt.Sprintf("10.2.0.%d", i+1), true)
	}
	var before []*discoveryv1.EndpointSlice
	e.Eventually("35 endpoints in four slices", func() error {
		ss, err := webSlices(e)
		if err != nil {
			return err
		}
		n := 0
		for _, s := range ss {
			n += len(s.GetEndpoints())
		}
		if len(ss) != 4 || n != 35 {
			return fmt.Errorf("%d slices, %d endpoints", len(ss), n)
		}
		before = ss
		return nil
	})
	p, err := e.Client.Pods("default").Get(e.Ctx, "p17")
	if err != nil {
		t.Fatal(err)
	}
	setReady(t, e, p, "10.2.0.18", false)
	e.Eventually("p17 unready in one rewritten slice", func() error {
		ss, err := webSlices(e)
		if err != nil {
			return err
		}
		if !strings.Contains(describe(ss), "10.2.0.18=p17:false/false/false") {
			return fmt.Errorf("p17 not unready yet")
		}
		rv := map[string]string{}
		for _, s := range before {
			rv[s.GetMetadata().GetName()] = s.GetMetadata().GetResourceVersion()
		}
		changed := 0
		for _, s := range ss {
			old, ok := rv[s.GetMetadata().GetName()]
			if !ok {
				return fmt.Errorf("new slice %s", s.GetMetadata().GetName())
			}
			if old != s.GetMetadata().GetResourceVersion() {
				changed++
			}
		}
		if len(ss) != 4 || changed != 1 {
			return fmt.Errorf("%d slices, %d rewritten, want 4 and 1", len(ss), changed)
		}
		return nil
	})
}

// TestEndpointsOfServiceWithoutSelectorMirrored: the Endpoints users write
// for a Service without a selector appear as an EndpointSlice.
func TestEndpointsOfServiceWithoutSelectorMirrored(t *testing.T) {
	e := start(t, 0)
	if _, err := e.Client.Services("default").Create(e.Ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web"},
		Spec: &corev1.ServiceSpec{Ports: []*corev1.ServicePort{{Name: "http", Port: 80}}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.Endpoints("default").Create(e.Ctx, &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Name: "web"},
		Subsets: []*corev1.EndpointSubset{{Addresses: []*corev1.EndpointAddress{{Ip: "192.0.2.7"}},
			Ports: []*corev1.EndpointPort{{Name: "http", Port: 8080}}}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Eventually("the Endpoints mirrored", func() error {
		ss, err := webSlices(e)
		if err != nil {
			return err
		}
		if got := describe(ss); got != "192.0.2.7=:true/false/false@/" || ss[0].GetMetadata().GetLabels()[api.LabelManagedBy] != api.EndpointSliceMirroringName {
			return fmt.Errorf("slices %q", got)
		}
		return nil
	})
}
