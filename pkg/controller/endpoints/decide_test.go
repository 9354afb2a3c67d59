package endpoints_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/controller/endpoints"
)

type podOpt func(*corev1.Pod)

func epPod(name, ip string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{NodeName: "n1", Containers: []*corev1.Container{{Name: "c",
			Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		Status: &corev1.PodStatus{Phase: api.PodRunning, PodIp: ip,
			Conditions: []*corev1.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func notReady(p *corev1.Pod)    { p.Status.Conditions[0].Status = api.ConditionFalse }
func terminating(p *corev1.Pod) { p.Metadata.DeletionTimestamp = timestamppb.Now() }
func finished(p *corev1.Pod)    { p.Status.Phase = api.PodSucceeded }
func otherLabels(p *corev1.Pod) { p.Metadata.Labels = map[string]string{"app": "db"} }
func httpPort(port int32) podOpt {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = port }
}
func noNamedPort(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil }

func service(publishNotReady bool, ports ...*corev1.ServicePort) *corev1.Service {
	return &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"tier": "front"}},
		Spec: &corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: ports, PublishNotReadyAddresses: publishNotReady}}
}

var byName = &corev1.ServicePort{Name: "http", Port: 80, TargetPort: &metav1.IntOrString{Type: 1, StrVal: "http"}}
var byNumber = &corev1.ServicePort{Name: "metrics", Port: 9090, TargetPort: &metav1.IntOrString{IntVal: 9100}}

// summary writes subsets as "ports: ready | notready" per subset.
func summary(subsets []*corev1.EndpointSubset) string {
	var out []string
	for _, s := range subsets {
		var ports, ready, notReady []string
		for _, p := range s.GetPorts() {
			ports = append(ports, fmt.Sprintf("%s/%d/%s", p.GetName(), p.GetPort(), p.GetProtocol()))
		}
		for _, a := range s.GetAddresses() {
			ready = append(ready, a.GetIp())
		}
		for _, a := range s.GetNotReadyAddresses() {
			notReady = append(notReady, a.GetIp())
		}
		out = append(out, strings.Join(ports, ",")+": "+strings.Join(ready, ",")+" | "+strings.Join(notReady, ","))
	}
	return strings.Join(out, "; ")
}

func TestSubsets(t *testing.T) {
	cases := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want string
	}{
		{name: "ready pods under addresses, sorted by IP",
			svc:  service(false, byNumber),
			pods: []*corev1.Pod{epPod("b", "10.0.0.2"), epPod("a", "10.0.0.10"), epPod("c", "10.0.0.1")},
			want: "metrics/9100/TCP: 10.0.0.1,10.0.0.10,10.0.0.2 | "},
		{name: "pods not ready under notReadyAddresses",
			svc:  service(false, byNumber),
			pods: []*corev1.Pod{epPod("a", "10.0.0.1"), epPod("b", "10.0.0.2", notReady)},
			want: "metrics/9100/TCP: 10.0.0.1 | 10.0.0.2"},
		{name: "publishNotReadyAddresses puts every pod under addresses",
			svc:  service(true, byNumber),
			pods: []*corev1.Pod{epPod("a", "10.0.0.1"), epPod("b", "10.0.0.2", notReady)},
			want: "metrics/9100/TCP: 10.0.0.1,10.0.0.2 | "},
		{name: "left out: no IP yet, terminating, finished, not selected",
			svc: service(false, byNumber),
			pods: []*corev1.Pod{epPod("noip", ""), epPod("going", "10.0.0.2", terminating), epPod("done", "10.0.0.3", finished),
				epPod("db", "10.0.0.4", otherLabels), epPod("ok", "10.0.0.5")},
			want: "metrics/9100/TCP: 10.0.0.5 | "},
		{name: "publishNotReadyAddresses keeps a terminating pod (not a finished one)",
			svc:  service(true, byNumber),
			pods: []*corev1.Pod{epPod("a", "10.0.0.1"), epPod("going", "10.0.0.2", terminating, notReady), epPod("done", "10.0.0.3", finished)},
			want: "metrics/9100/TCP: 10.0.0.1,10.0.0.2 | "},
		{name: "a terminating pod still ready leaves at once",
			svc:  service(false, byNumber),
			pods: []*corev1.Pod{epPod("a", "10.0.0.1"), epPod("going", "10.0.0.2", terminating)},
			want: "metrics/9100/TCP: 10.0.0.1 | "},
		{name: "a named targetPort resolves per pod: one subset per port set",
			svc:  service(false, byName),
			pods: []*corev1.Pod{epPod("a", "10.0.0.1"), epPod("b", "10.0.0.2", httpPort(8081)), epPod("c", "10.0.0.3")},
			want: "http/8080/TCP: 10.0.0.1,10.0.0.3 | ; http/8081/TCP: 10.0.0.2 | "},
		{name: "a pod whose named port does not resolve is left out",
			svc:  service(false, byName, byNumber),
			pods: []*corev1.Pod{epPod("a", "10.0.0.1"), epPod("b", "10.0.0.2", noNamedPort)},
			want: "http/8080/TCP,metrics/9100/TCP: 10.0.0.1 | "},
		{name: "no targetPort: the Service port",
			svc:  service(false, &corev1.ServicePort{Name: "x", Port: 81, Protocol: api.ProtocolUDP}),
			pods: []*corev1.Pod{epPod("a", "10.0.0.1")},
			want: "x/81/UDP: 10.0.0.1 | "},
		{name: "no pods: no subsets", svc: service(false, byNumber), want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := summary(endpoints.Subsets(tc.svc, tc.pods)); got != tc.want {
				t.Errorf("subsets %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	svc := service(false, byNumber)
	pods := []*corev1.Pod{epPod("a", "10.0.0.1")}
	current := &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "7",
		Labels: map[string]string{"tier": "front"}}, Subsets: endpoints.Subsets(svc, pods)}
	relabelled := service(false, byNumber)
	relabelled.Metadata.Labels = map[string]string{"tier": "back"}
	noSelector := service(false, byNumber)
	noSelector.Spec.Selector = nil
	cases := []struct {
		name string
		in   endpoints.Input
		want string
	}{
		{name: "a new Service gets its Endpoints", in: endpoints.Input{Service: svc, Pods: pods}, want: "create"},
		{name: "unchanged: no write", in: endpoints.Input{Service: svc, Endpoints: current, Pods: pods}, want: "none"},
		{name: "a pod more: update", in: endpoints.Input{Service: svc, Endpoints: current,
			Pods: append([]*corev1.Pod{epPod("b", "10.0.0.2")}, pods...)}, want: "update"},
		{name: "new Service labels: update", in: endpoints.Input{Service: relabelled, Endpoints: current, Pods: pods}, want: "update"},
		{name: "a Service without a selector keeps its users' Endpoints",
			in: endpoints.Input{Service: noSelector, Endpoints: current}, want: "none"},
		{name: "a deleted Service's Endpoints go", in: endpoints.Input{Endpoints: current}, want: "delete web"},
		{name: "nothing to delete", in: endpoints.Input{}, want: "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Namespace, tc.in.Name = "default", "web"
			p := endpoints.Decide(tc.in)
			got := "none"
			switch {
			case p.Create != nil:
				got = "create"
			case p.Update != nil:
				got = "update"
				if p.Update.GetMetadata().GetResourceVersion() != "7" {
					t.Errorf("the update does not carry the cached resourceVersion: %v", p.Update.GetMetadata())
				}
				if current.GetMetadata().GetLabels()["tier"] != "front" {
					t.Errorf("Decide modified its input")
				}
			case p.Delete != "":
				got = "delete " + p.Delete
			}
			if got != tc.want {
				t.Errorf("plan %s, want %s", got, tc.want)
			}
		})
	}
}
