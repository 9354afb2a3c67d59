package endpointslice

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func svc() *corev1.Service {
	return &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "ns", Uid: "u1", Labels: map[string]string{"app": "web"}},
		Spec: &corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []*corev1.ServicePort{{Name: "http", Port: 80,
			TargetPort: &metav1.IntOrString{IntVal: 8080}, Protocol: api.ProtocolTCP}}}}
}

// podAt is a pod of the Service at ip on node, ready or not.
func podAt(i int, ip, node string, ready bool) *corev1.Pod {
	st := map[bool]string{true: api.ConditionTrue, false: api.ConditionFalse}[ready]
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "ns", Uid: fmt.Sprintf("uid%d", i), Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{NodeName: node}, Status: &corev1.PodStatus{Phase: api.PodRunning, PodIp: ip,
			Conditions: []*corev1.PodCondition{{Type: api.PodReady, Status: st}}}}
}

func pods(n int) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, podAt(i, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), "n1", true))
	}
	return out
}

// materialize turns a plan's creates into named slices and applies its
// updates and deletes to cur, as the apiserver would.
func materialize(cur []*discoveryv1.EndpointSlice, p Plan, gen *int) []*discoveryv1.EndpointSlice {
	byName := map[string]*discoveryv1.EndpointSlice{}
	for _, s := range cur {
		byName[s.GetMetadata().GetName()] = s
	}
	for _, n := range p.Delete {
		delete(byName, n)
	}
	for _, s := range p.Update {
		byName[s.GetMetadata().GetName()] = s
	}
	for _, s := range p.Create {
		s = proto.Clone(s).(*discoveryv1.EndpointSlice)
		*gen++
		s.Metadata.Name = fmt.Sprintf("web-%03d", *gen)
		byName[s.Metadata.Name] = s
	}
	var out []*discoveryv1.EndpointSlice
	for _, s := range byName {
		out = append(out, s)
	}
	return out
}

func counts(ss []*discoveryv1.EndpointSlice) []int {
	var out []int
	for _, s := range ss {
		out = append(out, len(s.GetEndpoints()))
	}
	slices.Sort(out)
	return out
}

func TestDecidePacking(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pods       int
		max        int
		wantCounts []int
	}{
		{"none: one placeholder", 0, 100, []int{0}},
		{"one slice", 3, 100, []int{3}},
		{"exactly full", 100, 100, []int{100}},
		{"full slices then the rest", 250, 100, []int{50, 100, 100}},
		{"small max", 7, 3, []int{1, 3, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(Input{Namespace: "ns", Name: "web", Service: svc(), Pods: pods(tc.pods), MaxPerSlice: tc.max})
			if len(p.Update)+len(p.Delete) != 0 {
				t.Fatalf("from nothing: updates %d deletes %d", len(p.Update), len(p.Delete))
			}
			if got := counts(p.Create); !slices.Equal(got, tc.wantCounts) {
				t.Errorf("slice sizes %v, want %v", got, tc.wantCounts)
			}
			for _, s := range p.Create {
				l := s.GetMetadata().GetLabels()
				if l[api.LabelServiceName] != "web" || l[api.LabelManagedBy] != api.EndpointSliceControllerName || l["app"] != "web" {
					t.Errorf("labels %v", l)
				}
				if s.GetMetadata().GetGenerateName() != "web-" || s.GetAddressType() != api.AddressTypeIPv4 {
					t.Errorf("generateName %q addressType %q", s.GetMetadata().GetGenerateName(), s.GetAddressType())
				}
				if refs := s.GetMetadata().GetOwnerReferences(); len(refs) != 1 || refs[0].GetUid() != "u1" || !refs[0].GetController() {
					t.Errorf("owner %v", refs)
				}
				if tc.pods > 0 && (len(s.GetPorts()) != 1 || s.GetPorts()[0].GetPort() != 8080 || s.GetPorts()[0].GetName() != "http") {
					t.Errorf("ports %v", s.GetPorts())
				}
			}
			// Deciding again on the result changes nothing.
			gen := 0
			cur := materialize(nil, p, &gen)
			if again := Decide(Input{Namespace: "ns", Name: "web", Service: svc(), Pods: pods(tc.pods), Slices: cur, MaxPerSlice: tc.max}); !again.Empty() {
				t.Errorf("second decide: %d creates, %d updates, %d deletes", len(again.Create), len(again.Update), len(again.Delete))
			}
		})
	}
}

// TestDecideMinimalUpdates: each change rewrites only the slices it
// touches.
func TestDecideMinimalUpdates(t *testing.T) {
	start := pods(250) // slices of 100, 100, 50
	for _, tc := range []struct {
		name                      string
		change                    func(p []*corev1.Pod, inSmall func(*corev1.Pod) bool) []*corev1.Pod
		creates, updates, deletes int
		wantCounts                []int
	}{
		{"nothing", func(p []*corev1.Pod, inSmall func(*corev1.Pod) bool) []*corev1.Pod { return p }, 0, 0, 0, []int{50, 100, 100}},
		{"one pod not ready", func(p []*corev1.Pod, inSmall func(*corev1.Pod) bool) []*corev1.Pod {
			p[10] = podAt(10, p[10].GetStatus().GetPodIp(), "n1", false)
			return p
		}, 0, 1, 0, []int{50, 100, 100}},
		{"one pod of a full slice gone", func(p []*corev1.Pod, inSmall func(*corev1.Pod) bool) []*corev1.Pod {
			i := slices.IndexFunc(p, func(p *corev1.Pod) bool { return !inSmall(p) })
			return slices.Delete(p, i, i+1)
		}, 0, 1, 0, []int{50, 99, 100}},
		{"one pod added: goes to the slice with room", func(p []*corev1.Pod, inSmall func(*corev1.Pod) bool) []*corev1.Pod {
			return append(p, podAt(999, "10.9.9.9", "n1", true))
		}, 0, 1, 0, []int{51, 100, 100}},
		{"one gone, one added: same slice", func(p []*corev1.Pod, inSmall func(*corev1.Pod) bool) []*corev1.Pod {
			p = slices.Delete(p, 5, 6)
			return append(p, podAt(999, "10.9.9.9", "n1", true))
		}, 0, 1, 0, []int{50, 100, 100}},
		{"60 added: too many for the partial slice, a new one", func(p []*corev1.Pod, inSmall func(*corev1.Pod) bool) []*corev1.Pod {
			for i := range 60 {
				p = append(p, podAt(1000+i, fmt.Sprintf("10.8.0.%d", i+1), "n1", true))
			}
			return p
		}, 1, 0, 0, []int{50, 60, 100, 100}},
		{"all 50 of the partial slice gone: deleted", func(p []*corev1.Pod, inSmall func(*corev1.Pod) bool) []*corev1.Pod {
			return slices.DeleteFunc(p, inSmall)
		}, 0, 0, 1, []int{100, 100}},
		{"all gone: one placeholder kept", func(p []*corev1.Pod, inSmall func(*corev1.Pod) bool) []*corev1.Pod { return nil }, 0, 1, 2, []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gen := 0
			cur := materialize(nil, Decide(Input{Namespace: "ns", Name: "web", Service: svc(), Pods: start, MaxPerSlice: 100}), &gen)
			small := map[string]bool{}
			for _, s := range cur {
				if len(s.GetEndpoints()) == 50 {
					for _, e := range s.GetEndpoints() {
						small[e.GetAddresses()[0]] = true
					}
				}
			}
			next := tc.change(slices.Clone(start), func(p *corev1.Pod) bool { return small[p.GetStatus().GetPodIp()] })
			p := Decide(Input{Namespace: "ns", Name: "web", Service: svc(), Pods: next, Slices: cur, MaxPerSlice: 100})
			if len(p.Create) != tc.creates || len(p.Update) != tc.updates || len(p.Delete) != tc.deletes {
				t.Fatalf("creates %d updates %d deletes %d, want %d %d %d", len(p.Create), len(p.Update), len(p.Delete), tc.creates, tc.updates, tc.deletes)
			}
			after := materialize(cur, p, &gen)
			if got := counts(after); !slices.Equal(got, tc.wantCounts) {
				t.Errorf("slice sizes %v, want %v", got, tc.wantCounts)
			}
			if again := Decide(Input{Namespace: "ns", Name: "web", Service: svc(), Pods: next, Slices: after, MaxPerSlice: 100}); !again.Empty() {
				t.Errorf("not stable: %d creates, %d updates, %d deletes", len(again.Create), len(again.Update), len(again.Delete))
			}
		})
	}
}

// TestDecideOneChangeAmongThousands: with 1,200 endpoints in 12 slices, a
// pod turning unready rewrites one slice of 100 endpoints only.
func TestDecideOneChangeAmongThousands(t *testing.T) {
	all := pods(1200)
	gen := 0
	cur := materialize(nil, Decide(Input{Namespace: "ns", Name: "web", Service: svc(), Pods: all, MaxPerSlice: 100}), &gen)
	if len(cur) != 12 {
		t.Fatalf("%d slices, want 12", len(cur))
	}
	next := slices.Clone(all)
	next[777] = podAt(777, all[777].GetStatus().GetPodIp(), "n1", false)
	p := Decide(Input{Namespace: "ns", Name: "web", Service: svc(), Pods: next, Slices: cur, MaxPerSlice: 100})
	if len(p.Create) != 0 || len(p.Delete) != 0 || len(p.Update) != 1 {
		t.Fatalf("creates %d updates %d deletes %d, want one update", len(p.Create), len(p.Update), len(p.Delete))
	}
	var changed *discoveryv1.Endpoint
	for _, e := range p.Update[0].GetEndpoints() {
		if e.GetTargetRef().GetName() == "p777" {
			changed = e
		}
	}
	if changed == nil || changed.GetConditions().GetReady() {
		t.Errorf("the updated slice does not carry p777 unready: %v", changed)
	}
}

func TestDecideConditions(t *testing.T) {
	deleting := func(p *corev1.Pod) *corev1.Pod { p.Metadata.DeletionTimestamp = timestamppb.Now(); return p }
	zones := map[string]string{"n1": "zone-a"}
	for _, tc := range []struct {
		name                        string
		pod                         *corev1.Pod
		publishNotReady             bool
		ready, serving, terminating bool
		wantZone                    string
	}{
		{"ready", podAt(1, "10.0.0.1", "n1", true), false, true, true, false, "zone-a"},
		{"not ready", podAt(1, "10.0.0.1", "n2", false), false, false, false, false, ""},
		{"ready and terminating", deleting(podAt(1, "10.0.0.1", "n1", true)), false, false, true, true, "zone-a"},
		{"not ready and terminating", deleting(podAt(1, "10.0.0.1", "n1", false)), false, false, false, true, "zone-a"},
		{"publishNotReadyAddresses", podAt(1, "10.0.0.1", "n1", false), true, true, true, false, "zone-a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := svc()
			s.Spec.PublishNotReadyAddresses = tc.publishNotReady
			p := Decide(Input{Namespace: "ns", Name: "web", Service: s, Pods: []*corev1.Pod{tc.pod}, Zones: zones})
			if len(p.Create) != 1 || len(p.Create[0].GetEndpoints()) != 1 {
				t.Fatalf("plan %v", p)
			}
			e := p.Create[0].GetEndpoints()[0]
			c := e.GetConditions()
			if c.GetReady() != tc.ready || c.GetServing() != tc.serving || c.GetTerminating() != tc.terminating {
				t.Errorf("ready %v serving %v terminating %v, want %v %v %v", c.GetReady(), c.GetServing(), c.GetTerminating(), tc.ready, tc.serving, tc.terminating)
			}
			if e.GetZone() != tc.wantZone || e.GetNodeName() != tc.pod.GetSpec().GetNodeName() || e.GetAddresses()[0] != "10.0.0.1" {
				t.Errorf("zone %q node %q addresses %v", e.GetZone(), e.GetNodeName(), e.GetAddresses())
			}
			if r := e.GetTargetRef(); r.GetKind() != "Pod" || r.GetName() != "p1" || r.GetUid() != "uid1" {
				t.Errorf("targetRef %v", r)
			}
		})
	}
}

func TestDecideLeavesOut(t *testing.T) {
	noIP := podAt(1, "", "n1", true)
	done := podAt(2, "10.0.0.2", "n1", true)
	done.Status.Phase = api.PodSucceeded
	other := podAt(3, "10.0.0.3", "n1", true)
	other.Metadata.Labels = map[string]string{"app": "db"}
	named := svc()
	named.Spec.Ports[0].TargetPort = &metav1.IntOrString{Type: 1, StrVal: "web"} // no pod has it
	for _, tc := range []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
	}{
		{"no IP, finished, not selected", svc(), []*corev1.Pod{noIP, done, other}},
		{"named port not on the pod", named, []*corev1.Pod{podAt(4, "10.0.0.4", "n1", true)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(Input{Namespace: "ns", Name: "web", Service: tc.svc, Pods: tc.pods})
			if got := counts(p.Create); !slices.Equal(got, []int{0}) {
				t.Errorf("slices %v, want one empty placeholder", got)
			}
		})
	}
}

func TestDecideServiceGoneOrWithoutSelector(t *testing.T) {
	gen := 0
	cur := materialize(nil, Decide(Input{Namespace: "ns", Name: "web", Service: svc(), Pods: pods(150), MaxPerSlice: 100}), &gen)
	noSel := svc()
	noSel.Spec.Selector = nil
	for name, s := range map[string]*corev1.Service{"gone": nil, "selector removed": noSel} {
		p := Decide(Input{Namespace: "ns", Name: "web", Service: s, Pods: pods(150), Slices: cur})
		if len(p.Delete) != 2 || len(p.Create)+len(p.Update) != 0 {
			t.Errorf("%s: %+v, want both slices deleted", name, p)
		}
	}
}

// TestDecidePortChangeReusesSlices: a new targetPort changes every slice's
// shape; the old slices are rewritten in place, not deleted and created.
func TestDecidePortChangeReusesSlices(t *testing.T) {
	gen := 0
	cur := materialize(nil, Decide(Input{Namespace: "ns", Name: "web", Service: svc(), Pods: pods(150), MaxPerSlice: 100}), &gen)
	s := svc()
	s.Spec.Ports[0].TargetPort = &metav1.IntOrString{IntVal: 9090}
	p := Decide(Input{Namespace: "ns", Name: "web", Service: s, Pods: pods(150), Slices: cur, MaxPerSlice: 100})
	if len(p.Create) != 0 || len(p.Delete) != 0 || len(p.Update) != 2 {
		t.Fatalf("creates %d updates %d deletes %d, want 2 updates", len(p.Create), len(p.Update), len(p.Delete))
	}
	for _, u := range p.Update {
		if u.GetPorts()[0].GetPort() != 9090 {
			t.Errorf("%s ports %v", u.GetMetadata().GetName(), u.GetPorts())
		}
	}
}

func TestDecideHostname(t *testing.T) {
	p := podAt(1, "10.0.0.1", "n1", true)
	p.Spec.Hostname, p.Spec.Subdomain = "web-0", "web"
	plan := Decide(Input{Namespace: "ns", Name: "web", Service: svc(), Pods: []*corev1.Pod{p}})
	if h := plan.Create[0].GetEndpoints()[0].GetHostname(); h != "web-0" {
		t.Errorf("hostname %q, want web-0", h)
	}
	p.Spec.Subdomain = "other"
	plan = Decide(Input{Namespace: "ns", Name: "web", Service: svc(), Pods: []*corev1.Pod{p}})
	if e := plan.Create[0].GetEndpoints()[0]; e.Hostname != nil {
		t.Errorf("hostname %q under another subdomain", strings.TrimSpace(e.GetHostname()))
	}
}

func TestDecideMirrorsEndpointsOfServicesWithoutSelector(t *testing.T) {
	noSel := svc()
	noSel.Spec.Selector = nil
	ep := &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "ns", Uid: "ep-uid", Labels: map[string]string{"team": "a"}},
		Subsets: []*corev1.EndpointSubset{{
			Addresses:         []*corev1.EndpointAddress{{Ip: "192.0.2.1"}, {Ip: "192.0.2.2", Hostname: "db-0"}},
			NotReadyAddresses: []*corev1.EndpointAddress{{Ip: "192.0.2.3"}},
			Ports:             []*corev1.EndpointPort{{Name: "pg", Port: 5432}},
		}}}
	p := Decide(Input{Namespace: "ns", Name: "web", Service: noSel, Endpoints: ep})
	if len(p.Create) != 1 || len(p.Update)+len(p.Delete) != 0 {
		t.Fatalf("plan %+v, want one slice created", p)
	}
	s := p.Create[0]
	l := s.GetMetadata().GetLabels()
	if l[api.LabelManagedBy] != api.EndpointSliceMirroringName || l[api.LabelServiceName] != "web" || l["team"] != "a" {
		t.Errorf("labels %v", l)
	}
	if refs := s.GetMetadata().GetOwnerReferences(); len(refs) != 1 || refs[0].GetKind() != "Endpoints" || refs[0].GetUid() != "ep-uid" {
		t.Errorf("owner %v", refs)
	}
	if pp := s.GetPorts(); len(pp) != 1 || pp[0].GetName() != "pg" || pp[0].GetPort() != 5432 || pp[0].GetProtocol() != "TCP" {
		t.Errorf("ports %v", pp)
	}
	var got []string
	for _, e := range s.GetEndpoints() {
		got = append(got, fmt.Sprintf("%s:%v:%s", e.GetAddresses()[0], e.GetConditions().GetReady(), e.GetHostname()))
	}
	if want := "[192.0.2.1:true: 192.0.2.2:true:db-0 192.0.2.3:false:]"; fmt.Sprint(got) != want {
		t.Errorf("endpoints %v, want %s", got, want)
	}

	gen := 0
	mirrored := materialize(nil, p, &gen)
	if again := Decide(Input{Namespace: "ns", Name: "web", Service: noSel, Endpoints: ep, Slices: mirrored}); !again.Empty() {
		t.Errorf("not stable: %+v", again)
	}
	skip := proto.Clone(ep).(*corev1.Endpoints)
	skip.Metadata.Labels[api.LabelSkipMirror] = "true"
	for name, in := range map[string]Input{
		"skip-mirror":  {Service: noSel, Endpoints: skip},
		"no Endpoints": {Service: noSel},
		"a selector":   {Service: svc(), Endpoints: ep},
	} {
		in.Namespace, in.Name, in.Slices = "ns", "web", mirrored
		if p := Decide(in); len(p.Delete) != 1 || p.Delete[0] != mirrored[0].GetMetadata().GetName() {
			t.Errorf("%s: %+v, want the mirrored slice deleted", name, p)
		}
	}
}
