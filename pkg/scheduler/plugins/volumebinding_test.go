package plugins_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/scheduler/plugins"
)

func ptrTo[T any](v T) *T { return &v }

// volNode is a node named name in zone.
func volNode(name, zone string) *corev1.Node {
	return &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone}}}
}

// claim is a Pending ReadWriteOnce claim in "team" of class for 1Gi.
func claim(name, class string, mod ...func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "team", Uid: "uid-" + name, ResourceVersion: "3"},
		Spec: &corev1.PersistentVolumeClaimSpec{AccessModes: []string{"ReadWriteOnce"}, StorageClassName: ptrTo(class),
			Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"storage": {String_: "1Gi"}}}},
		Status: &corev1.PersistentVolumeClaimStatus{Phase: api.ClaimPending}}
	for _, m := range mod {
		m(c)
	}
	return c
}

func boundTo(vol string) func(*corev1.PersistentVolumeClaim) {
	return func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = vol; c.Status.Phase = api.ClaimBound }
}

func selected(node string) func(*corev1.PersistentVolumeClaim) {
	return func(c *corev1.PersistentVolumeClaim) {
		c.Metadata.Annotations = map[string]string{api.AnnSelectedNode: node}
	}
}

func deleting(c *corev1.PersistentVolumeClaim) { c.Metadata.DeletionTimestamp = timestamppb.Now() }

// volume is an Available 1Gi ReadWriteOnce volume of class, usable only
// from node ("" for anywhere).
func volume(name, class, node string) *corev1.PersistentVolume {
	v := &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: name},
		Spec: &corev1.PersistentVolumeSpec{Capacity: map[string]*metav1.Quantity{"storage": {String_: "1Gi"}},
			AccessModes: []string{"ReadWriteOnce"}, StorageClassName: class, PersistentVolumeReclaimPolicy: api.PersistentVolumeReclaimRetain},
		Status: &corev1.PersistentVolumeStatus{Phase: api.VolumeAvailable}}
	if node != "" {
		v.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{
			MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: "In", Values: []string{node}}}}}}}
	}
	return v
}

func class(name, provisioner, mode string, zones ...string) *storagev1.StorageClass {
	c := &storagev1.StorageClass{Metadata: &metav1.ObjectMeta{Name: name}, Provisioner: provisioner, VolumeBindingMode: ptrTo(mode)}
	if len(zones) > 0 {
		c.AllowedTopologies = []*corev1.TopologySelectorTerm{{MatchLabelExpressions: []*corev1.TopologySelectorLabelRequirement{
			{Key: "topology.kubernetes.io/zone", Values: zones}}}}
	}
	return c
}

// storageClasses: "local" (WaitForFirstConsumer, static volumes only),
// "dyn" (WaitForFirstConsumer, provisioned anywhere), "zoned"
// (WaitForFirstConsumer, provisioned in zone b), "now" (Immediate).
var storageClasses = []*storagev1.StorageClass{
	class("local", api.NoProvisioner, api.VolumeBindingWaitForFirstConsumer),
	class("dyn", "keel.dev/local-path", api.VolumeBindingWaitForFirstConsumer),
	class("zoned", "keel.dev/local-path", api.VolumeBindingWaitForFirstConsumer, "b"),
	class("now", "keel.dev/local-path", api.VolumeBindingImmediate),
}

func podWithClaims(claims ...string) *corev1.Pod {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "team", Uid: "pod-uid"},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "i"}}}}
	for _, c := range claims {
		p.Spec.Volumes = append(p.Spec.Volumes, &corev1.Volume{Name: c, PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c}})
	}
	return p
}

// volumeHarness runs VolumeBinding over nodes n1 (zone a) and n2 (zone
// b) and the given storage; updates records the claims it writes and
// apply, if set, plays the PV controller on each write.
type volumeHarness struct {
	t       *testing.T
	storage *plugins.StaticStorage
	fwk     *framework.Framework
	plugin  *plugins.VolumeBinding
	updates []*corev1.PersistentVolumeClaim
	apply   func(c *corev1.PersistentVolumeClaim)
}

func newVolumeHarness(t *testing.T, claims []*corev1.PersistentVolumeClaim, vols []*corev1.PersistentVolume, args string) *volumeHarness {
	t.Helper()
	h := &volumeHarness{t: t, storage: &plugins.StaticStorage{PersistentVolumeClaims: claims, PersistentVolumes: vols, StorageClasses: storageClasses}}
	reg := plugins.NewRegistry(plugins.Deps{
		Bind:    func(context.Context, *framework.PodInfo, string) error { return nil },
		Storage: h.storage,
		UpdateClaim: func(_ context.Context, c *corev1.PersistentVolumeClaim) error {
			h.updates = append(h.updates, proto.Clone(c).(*corev1.PersistentVolumeClaim))
			for i, old := range h.storage.PersistentVolumeClaims {
				if old.GetMetadata().GetName() == c.GetMetadata().GetName() {
					h.storage.PersistentVolumeClaims[i] = c
				}
			}
			if h.apply != nil {
				h.apply(c)
			}
			return nil
		},
	})
	fwk, err := framework.New(framework.Options{Registry: reg, Snapshot: framework.NewStaticSnapshot([]*corev1.Node{volNode("n1", "a"), volNode("n2", "b")}, nil),
		Plugins: []framework.PluginConfig{{Name: plugins.VolumeBindingName, Args: []byte(args)}, {Name: plugins.DefaultBinderName}}})
	if err != nil {
		t.Fatal(err)
	}
	h.fwk, h.plugin = fwk, fwk.Plugin(plugins.VolumeBindingName).(*plugins.VolumeBinding)
	return h
}

// filter returns each node's verdict ("" for a fit) and the cycle state.
func (h *volumeHarness) filter(pod *corev1.Pod) (map[string]string, *framework.CycleState) {
	pi := framework.NewPodInfo(pod)
	state := framework.NewCycleState()
	out := map[string]string{}
	st := h.plugin.PreFilter(context.Background(), state, pi)
	for _, ni := range h.fwk.Snapshot().NodeInfos() {
		switch {
		case st.IsSkip():
			out[ni.Name] = ""
		case !st.IsSuccess():
			out[ni.Name] = "prefilter: " + st.Message()
		default:
			out[ni.Name] = h.plugin.Filter(context.Background(), state, pi, ni).Message()
		}
	}
	return out, state
}

const (
	bindConflict = "node(s) didn't find available persistent volumes to bind"
	nodeConflict = "node(s) had volume node affinity conflict"
)

func TestVolumeBindingFilter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		claims []*corev1.PersistentVolumeClaim
		vols   []*corev1.PersistentVolume
		pod    *corev1.Pod
		want   map[string]string
	}{
		{name: "no claims", pod: podWithClaims(), want: map[string]string{"n1": "", "n2": ""}},
		{name: "missing claim", pod: podWithClaims("data"),
			want: map[string]string{"n1": `prefilter: persistentvolumeclaim "data" not found`, "n2": `prefilter: persistentvolumeclaim "data" not found`}},
		{name: "claim being deleted", claims: []*corev1.PersistentVolumeClaim{claim("data", "dyn", deleting)}, pod: podWithClaims("data"),
			want: map[string]string{"n1": `prefilter: persistentvolumeclaim "data" is being deleted`, "n2": `prefilter: persistentvolumeclaim "data" is being deleted`}},
		{name: "unbound immediate claim", claims: []*corev1.PersistentVolumeClaim{claim("data", "now")}, pod: podWithClaims("data"),
			want: map[string]string{"n1": "prefilter: pod has unbound immediate PersistentVolumeClaims", "n2": "prefilter: pod has unbound immediate PersistentVolumeClaims"}},
		{name: "unbound claim without class", claims: []*corev1.PersistentVolumeClaim{claim("data", "")}, pod: podWithClaims("data"),
			want: map[string]string{"n1": "prefilter: pod has unbound immediate PersistentVolumeClaims", "n2": "prefilter: pod has unbound immediate PersistentVolumeClaims"}},
		{name: "missing class", claims: []*corev1.PersistentVolumeClaim{claim("data", "gone")}, pod: podWithClaims("data"),
			want: map[string]string{"n1": `prefilter: storageclass.storage.k8s.io "gone" not found`, "n2": `prefilter: storageclass.storage.k8s.io "gone" not found`}},
		{name: "bound claim, volume pinned to n2", claims: []*corev1.PersistentVolumeClaim{claim("data", "local", boundTo("pv2"))},
			vols: []*corev1.PersistentVolume{volume("pv2", "local", "n2")}, pod: podWithClaims("data"),
			want: map[string]string{"n1": nodeConflict, "n2": ""}},
		{name: "bound claim, volume anywhere", claims: []*corev1.PersistentVolumeClaim{claim("data", "now", boundTo("pv"))},
			vols: []*corev1.PersistentVolume{volume("pv", "now", "")}, pod: podWithClaims("data"),
			want: map[string]string{"n1": "", "n2": ""}},
		{name: "bound claim, volume gone", claims: []*corev1.PersistentVolumeClaim{claim("data", "local", boundTo("pv2"))}, pod: podWithClaims("data"),
			want: map[string]string{"n1": "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)", "n2": "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"}},
		{name: "WFFC, static volume on n1", claims: []*corev1.PersistentVolumeClaim{claim("data", "local")},
			vols: []*corev1.PersistentVolume{volume("pv1", "local", "n1")}, pod: podWithClaims("data"),
			want: map[string]string{"n1": "", "n2": bindConflict}},
		{name: "WFFC, static volume taken", claims: []*corev1.PersistentVolumeClaim{claim("data", "local")},
			vols: []*corev1.PersistentVolume{func() *corev1.PersistentVolume {
				v := volume("pv1", "local", "n1")
				v.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "team", Name: "other", Uid: "u"}
				return v
			}()}, pod: podWithClaims("data"),
			want: map[string]string{"n1": bindConflict, "n2": bindConflict}},
		{name: "WFFC, two claims, one static volume", claims: []*corev1.PersistentVolumeClaim{claim("a", "local"), claim("b", "local")},
			vols: []*corev1.PersistentVolume{volume("pv1", "local", "n1")}, pod: podWithClaims("a", "b"),
			want: map[string]string{"n1": bindConflict, "n2": bindConflict}},
		{name: "WFFC, two claims, two static volumes on n1", claims: []*corev1.PersistentVolumeClaim{claim("a", "local"), claim("b", "local")},
			vols: []*corev1.PersistentVolume{volume("pv1", "local", "n1"), volume("pv2", "local", "n1")}, pod: podWithClaims("a", "b"),
			want: map[string]string{"n1": "", "n2": bindConflict}},
		{name: "WFFC, provisioned anywhere", claims: []*corev1.PersistentVolumeClaim{claim("data", "dyn")}, pod: podWithClaims("data"),
			want: map[string]string{"n1": "", "n2": ""}},
		{name: "WFFC, provisioned in zone b only", claims: []*corev1.PersistentVolumeClaim{claim("data", "zoned")}, pod: podWithClaims("data"),
			want: map[string]string{"n1": bindConflict, "n2": ""}},
		{name: "WFFC, already selected for n2", claims: []*corev1.PersistentVolumeClaim{claim("data", "dyn", selected("n2"))}, pod: podWithClaims("data"),
			want: map[string]string{"n1": bindConflict, "n2": ""}},
		{name: "bound and unbound claims together", claims: []*corev1.PersistentVolumeClaim{claim("a", "local", boundTo("pv1")), claim("b", "dyn")},
			vols: []*corev1.PersistentVolume{volume("pv1", "local", "n1")}, pod: podWithClaims("a", "b"),
			want: map[string]string{"n1": "", "n2": nodeConflict}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newVolumeHarness(t, tc.claims, tc.vols, "")
			got, _ := h.filter(tc.pod)
			for n, w := range tc.want {
				if got[n] != w {
					t.Errorf("%s: got %q, want %q", n, got[n], w)
				}
			}
		})
	}
}

// TestVolumeBindingReserve: a claim reserved for a node is not handed to
// another node in the next cycle, and its static volume is not offered to
// other claims, until Unreserve.
func TestVolumeBindingReserve(t *testing.T) {
	h := newVolumeHarness(t, []*corev1.PersistentVolumeClaim{claim("a", "local"), claim("b", "local"), claim("c", "dyn")},
		[]*corev1.PersistentVolume{volume("pv1", "local", "n1")}, "")
	ctx := context.Background()
	pod := podWithClaims("a", "c")
	_, state := h.filter(pod)
	if st := h.plugin.Reserve(ctx, state, framework.NewPodInfo(pod), "n1"); !st.IsSuccess() {
		t.Fatalf("Reserve: %v", st)
	}
	other := podWithClaims("b")
	other.Metadata.Name, other.Metadata.Uid = "other", "other-uid"
	if got, _ := h.filter(other); got["n1"] != bindConflict {
		t.Errorf("a volume reserved for claim a is offered to claim b: %q", got["n1"])
	}
	sharer := podWithClaims("c")
	sharer.Metadata.Name, sharer.Metadata.Uid = "sharer", "sharer-uid"
	if got, _ := h.filter(sharer); got["n1"] != "" || got["n2"] != bindConflict {
		t.Errorf("a pod sharing claim c, reserved for n1: %v", got)
	}
	h.plugin.Unreserve(ctx, state, framework.NewPodInfo(pod), "n1")
	if got, _ := h.filter(other); got["n1"] != "" {
		t.Errorf("after Unreserve claim b finds no volume: %q", got["n1"])
	}
}

// TestVolumeBindingPreBind: PreBind annotates the unbound claims with the
// node and returns once the PV controller bound them; when they cannot be
// bound it fails and takes its annotations back.
func TestVolumeBindingPreBind(t *testing.T) {
	ctx := context.Background()
	bindAll := func(c *corev1.PersistentVolumeClaim) {
		if c.GetMetadata().GetAnnotations()[api.AnnSelectedNode] != "" {
			boundTo("pvc-" + c.GetMetadata().GetUid())(c)
		}
	}
	resetNode := func(c *corev1.PersistentVolumeClaim) { // provisioning failed
		delete(c.Metadata.Annotations, api.AnnSelectedNode)
	}
	for _, tc := range []struct {
		name      string
		apply     func(*corev1.PersistentVolumeClaim)
		ctx       func() context.Context
		wantErr   string
		wantNodes []string // the selected-node annotation of each write, in order
	}{
		{name: "bound by the PV controller", apply: bindAll, wantNodes: []string{"n2", "n2"}},
		{name: "selected node taken back", apply: resetNode, wantErr: "selectedNode annotation reset", wantNodes: []string{"n2", "n2"}},
		{name: "never bound", ctx: func() context.Context {
			c, cancel := context.WithCancel(ctx)
			cancel()
			return c
		}, wantErr: "binding volumes: context canceled", wantNodes: []string{"n2", "n2", "", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claims := []*corev1.PersistentVolumeClaim{claim("a", "dyn"), claim("b", "zoned"), claim("c", "local", boundTo("pv1"))}
			h := newVolumeHarness(t, claims, []*corev1.PersistentVolume{volume("pv1", "local", "")}, `{"bindTimeoutSeconds": 30}`)
			h.apply = tc.apply
			pod := podWithClaims("a", "b", "c")
			got, state := h.filter(pod)
			if got["n1"] != bindConflict || got["n2"] != "" {
				t.Fatalf("filter: %v", got)
			}
			pi := framework.NewPodInfo(pod)
			if st := h.plugin.Reserve(ctx, state, pi, "n2"); !st.IsSuccess() {
				t.Fatalf("Reserve: %v", st)
			}
			pctx := ctx
			if tc.ctx != nil {
				pctx = tc.ctx()
			}
			st := h.plugin.PreBind(pctx, state, pi, "n2")
			if tc.wantErr == "" && !st.IsSuccess() || tc.wantErr != "" && !strings.Contains(st.Message(), tc.wantErr) {
				t.Fatalf("PreBind: %v, want %q", st, tc.wantErr)
			}
			var nodes []string
			for _, u := range h.updates {
				nodes = append(nodes, u.GetMetadata().GetAnnotations()[api.AnnSelectedNode])
				if u.GetMetadata().GetName() == "c" {
					t.Errorf("the bound claim was written: %v", u)
				}
			}
			if strings.Join(nodes, ",") != strings.Join(tc.wantNodes, ",") {
				t.Errorf("writes' selected nodes %q, want %q", nodes, tc.wantNodes)
			}
			if !proto.Equal(claims[2], h.storage.PersistentVolumeClaims[2]) {
				t.Errorf("claim c changed")
			}
		})
	}
}

func TestVolumeBindingArgs(t *testing.T) {
	for _, args := range []string{`{"bindTimeoutSeconds": 0}`, `{"bindTimeout": 5}`} {
		_, err := framework.New(framework.Options{Registry: plugins.NewRegistry(plugins.Deps{
			Bind: func(context.Context, *framework.PodInfo, string) error { return nil }, Storage: &plugins.StaticStorage{},
			UpdateClaim: func(context.Context, *corev1.PersistentVolumeClaim) error { return nil }}),
			Snapshot: framework.NewStaticSnapshot(nil, nil),
			Plugins:  []framework.PluginConfig{{Name: plugins.VolumeBindingName, Args: []byte(args)}, {Name: plugins.DefaultBinderName}}})
		if err == nil {
			t.Errorf("args %s accepted", args)
		}
	}
}
