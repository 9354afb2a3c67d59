package admission_test

import (
	"context"
	"strings"
	"testing"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/admission"
	"keel.dev/keel/pkg/auth"
)

func asNode(name string) context.Context {
	return auth.WithUser(context.Background(), auth.User{Name: auth.NodeUser(name), Groups: []string{auth.GroupNodes, auth.GroupAuthenticated}})
}

func testNode(name string, labels map[string]string, taints ...*corev1.Taint) *corev1.Node {
	return &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name, Labels: labels}, Spec: &corev1.NodeSpec{Taints: taints}}
}

func boundPod(name, nodeName string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "ns", Name: name, Annotations: annotations}, Spec: &corev1.PodSpec{NodeName: nodeName}}
}

func TestNodeRestriction(t *testing.T) {
	nodes, pods := kind(t, "nodes"), kind(t, "pods")
	mirror := map[string]string{admission.MirrorPodAnnotation: "x"}
	taint := &corev1.Taint{Key: "k", Effect: "NoSchedule"}
	for _, c := range []struct {
		name string
		ctx  context.Context
		a    admission.Attributes
		want string // "" to admit; else a part of the Forbidden error
	}{
		{"another user passes", auth.WithUser(context.Background(), auth.User{Name: "alice"}),
			admission.Attributes{Operation: admission.Update, Kind: nodes, Name: "n2", Object: testNode("n2", nil), OldObject: testNode("n2", nil)}, ""},
		{"create its node", asNode("n1"),
			admission.Attributes{Operation: admission.Create, Kind: nodes, Name: "n1", Object: testNode("n1", map[string]string{"kubernetes.io/hostname": "n1", "kubernetes.io/os": "linux", "team": "a", "node.kubernetes.io/pool": "p"}, taint)}, ""},
		{"create another node", asNode("n1"),
			admission.Attributes{Operation: admission.Create, Kind: nodes, Name: "n2", Object: testNode("n2", nil)}, `node "n1" is not allowed to modify node "n2"`},
		{"create with a node-restriction label", asNode("n1"),
			admission.Attributes{Operation: admission.Create, Kind: nodes, Name: "n1", Object: testNode("n1", map[string]string{"node-restriction.kubernetes.io/trusted": "yes"})},
			`not allowed to set the following labels: node-restriction.kubernetes.io/trusted`},
		{"create with a kubernetes.io label kubelets do not set", asNode("n1"),
			admission.Attributes{Operation: admission.Create, Kind: nodes, Name: "n1", Object: testNode("n1", map[string]string{"node-role.kubernetes.io/control-plane": ""})},
			`not allowed to set the following labels: node-role.kubernetes.io/control-plane`},
		{"update its node's own labels", asNode("n1"),
			admission.Attributes{Operation: admission.Update, Kind: nodes, Name: "n1", Object: testNode("n1", map[string]string{"team": "b"}), OldObject: testNode("n1", map[string]string{"team": "a"})}, ""},
		{"keep a restricted label an admin set", asNode("n1"),
			admission.Attributes{Operation: admission.Update, Kind: nodes, Name: "n1",
				Object:    testNode("n1", map[string]string{"node-restriction.kubernetes.io/trusted": "yes", "team": "b"}),
				OldObject: testNode("n1", map[string]string{"node-restriction.kubernetes.io/trusted": "yes"})}, ""},
		{"add a restricted label", asNode("n1"),
			admission.Attributes{Operation: admission.Update, Kind: nodes, Name: "n1", Object: testNode("n1", map[string]string{"node-restriction.kubernetes.io/trusted": "yes"}), OldObject: testNode("n1", nil)},
			`not allowed to modify labels: node-restriction.kubernetes.io/trusted`},
		{"remove a restricted label", asNode("n1"),
			admission.Attributes{Operation: admission.Update, Kind: nodes, Name: "n1", Object: testNode("n1", nil), OldObject: testNode("n1", map[string]string{"node-restriction.kubernetes.io/trusted": "yes"})},
			`not allowed to modify labels: node-restriction.kubernetes.io/trusted`},
		{"remove its taint", asNode("n1"),
			admission.Attributes{Operation: admission.Update, Kind: nodes, Name: "n1", Object: testNode("n1", nil), OldObject: testNode("n1", nil, taint)},
			`not allowed to modify taints`},
		{"update another node's status", asNode("n1"),
			admission.Attributes{Operation: admission.Update, Subresource: "status", Kind: nodes, Name: "n2", Object: testNode("n2", nil), OldObject: testNode("n2", nil)},
			`not allowed to modify node "n2"`},

		{"create a mirror pod bound to itself", asNode("n1"),
			admission.Attributes{Operation: admission.Create, Kind: pods, Namespace: "ns", Name: "m", Object: boundPod("m", "n1", mirror)}, ""},
		{"create a pod that is not a mirror pod", asNode("n1"),
			admission.Attributes{Operation: admission.Create, Kind: pods, Namespace: "ns", Name: "p", Object: boundPod("p", "n1", nil)}, `can only create mirror pods`},
		{"create a mirror pod for another node", asNode("n1"),
			admission.Attributes{Operation: admission.Create, Kind: pods, Namespace: "ns", Name: "m", Object: boundPod("m", "n2", mirror)}, `spec.nodeName set to itself`},
		{"update its pod's status", asNode("n1"),
			admission.Attributes{Operation: admission.Update, Subresource: "status", Kind: pods, Namespace: "ns", Name: "p", Object: boundPod("p", "n1", nil), OldObject: boundPod("p", "n1", nil)}, ""},
		{"update another node's pod's status", asNode("n1"),
			admission.Attributes{Operation: admission.Update, Subresource: "status", Kind: pods, Namespace: "ns", Name: "p", Object: boundPod("p", "n1", nil), OldObject: boundPod("p", "n2", nil)},
			`can only update pod status for pods with spec.nodeName set to itself`},
		{"update a pod's spec", asNode("n1"),
			admission.Attributes{Operation: admission.Update, Kind: pods, Namespace: "ns", Name: "p", Object: boundPod("p", "n1", nil), OldObject: boundPod("p", "n1", nil)}, `can only create and delete mirror pods`},
		{"delete its pod", asNode("n1"),
			admission.Attributes{Operation: admission.Delete, Kind: pods, Namespace: "ns", Name: "p", OldObject: boundPod("p", "n1", nil)}, ""},
		{"delete another node's pod", asNode("n1"),
			admission.Attributes{Operation: admission.Delete, Kind: pods, Namespace: "ns", Name: "p", OldObject: boundPod("p", "n2", nil)}, `can only delete pods with spec.nodeName set to itself`},
		{"other kinds pass", asNode("n1"),
			admission.Attributes{Operation: admission.Create, Kind: kind(t, "events"), Namespace: "ns", Name: "e", Object: &corev1.Event{}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := admission.NodeRestriction{}.Validate(c.ctx, &c.a, objects{})
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (!apierrors.IsForbidden(err) || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want Forbidden containing %q", err, c.want)
			}
		})
	}
}

func TestDefaultTolerationSeconds(t *testing.T) {
	secs := func(n int64) *int64 { return &n }
	notReady := &corev1.Toleration{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: secs(300)}
	unreachable := &corev1.Toleration{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: secs(300)}
	own := &corev1.Toleration{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: secs(5)}
	everything := &corev1.Toleration{Operator: "Exists"}
	noSchedule := &corev1.Toleration{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoSchedule"}
	for _, c := range []struct {
		name string
		op   admission.Operation
		have []*corev1.Toleration
		want []*corev1.Toleration
	}{
		{"none: both added", admission.Create, nil, []*corev1.Toleration{notReady, unreachable}},
		{"its own not-ready kept", admission.Create, []*corev1.Toleration{own}, []*corev1.Toleration{own, unreachable}},
		{"tolerates everything", admission.Create, []*corev1.Toleration{everything}, []*corev1.Toleration{everything}},
		{"NoSchedule only: NoExecute added", admission.Create, []*corev1.Toleration{noSchedule}, []*corev1.Toleration{noSchedule, notReady, unreachable}},
		{"updates untouched", admission.Update, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p"}, Spec: &corev1.PodSpec{Tolerations: c.have}}
			a := &admission.Attributes{Operation: c.op, Kind: kind(t, "pods"), Name: "p", Object: p}
			if err := (admission.DefaultTolerationSeconds{}).Admit(context.Background(), a, objects{}); err != nil {
				t.Fatal(err)
			}
			got := p.GetSpec().GetTolerations()
			if len(got) != len(c.want) {
				t.Fatalf("tolerations %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i].String() != c.want[i].String() {
					t.Fatalf("tolerations %v, want %v", got, c.want)
				}
			}
		})
	}
}
