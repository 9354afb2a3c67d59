package plugins

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/volumematch"
)

// StorageLister reads the claims, volumes and StorageClasses the
// scheduler knows (its informer caches). It is safe for concurrent use;
// the objects it returns are shared and must not be modified.
type StorageLister interface {
	Claim(namespace, name string) (*corev1.PersistentVolumeClaim, bool)
	Volume(name string) (*corev1.PersistentVolume, bool)
	Volumes() []*corev1.PersistentVolume
	Class(name string) (*storagev1.StorageClass, bool)
	CSINode(name string) (*storagev1.CSINode, bool)
}

// UpdateClaimFunc writes a claim through the API (an update carrying its
// resourceVersion, so a stale one is refused with a conflict).
type UpdateClaimFunc func(ctx context.Context, claim *corev1.PersistentVolumeClaim) error

// VolumeBindingArgs are VolumeBinding's arguments.
type VolumeBindingArgs struct {
	// BindTimeoutSeconds bounds PreBind's wait for the pod's claims to be
	// bound (default 600, as Kubernetes).
	BindTimeoutSeconds *int64 `json:"bindTimeoutSeconds,omitempty"`
}

// Kubernetes' VolumeBinding messages.
const (
	msgUnboundImmediate = "pod has unbound immediate PersistentVolumeClaims"
	msgNodeConflict     = "node(s) had volume node affinity conflict"
	msgBindConflict     = "node(s) didn't find available persistent volumes to bind"
	msgPVNotExist       = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
)

var (
	statusNodeConflict = framework.NewStatus(framework.UnschedulableAndUnresolvable, msgNodeConflict)
	statusBindConflict = framework.NewStatus(framework.UnschedulableAndUnresolvable, msgBindConflict)
	statusPVNotExist   = framework.NewStatus(framework.UnschedulableAndUnresolvable, msgPVNotExist)
)

// VolumeBinding places pods with persistentVolumeClaim volumes, as
// Kubernetes' plugin of that name does:
//
//   - PreFilter: every claim must exist and not be being deleted, and a
//     claim not yet bound must be of a WaitForFirstConsumer class that
//     exists (an Immediate one is the PV controller's to bind first).
//   - Filter: the volumes of bound claims must allow the node (their
//     spec.nodeAffinity); each unbound claim must find an Available volume
//     that matches it and allows the node (the PV controller's FindMatch),
//     or else its class must provision there (a provisioner other than
//     kubernetes.io/no-provisioner, allowedTopologies matching the node).
//     A claim whose volume.kubernetes.io/selected-node names another node
//     fits only there.
//   - Reserve: the unbound claims are assumed chosen for the node (and the
//     volumes they match taken), so later cycles do not hand them out
//     again; Unreserve forgets that.
//   - PreBind: each unbound claim is annotated with
//     volume.kubernetes.io/selected-node: <node>, which hands it to the PV
//     controller: it binds the claim to the best matching volume that
//     allows the node, or provisions one there. PreBind then waits
//     (bounded by bindTimeoutSeconds and the binding's context) until
//     every claim is bound; on failure it removes the annotations it wrote
//     and the pod is retried.
//
// The scheduler does not write volumes' claimRefs itself: the PV
// controller is the one writer of bindings, and the node it is given
// restricts its choice to the volumes the scheduler's Filter found.
type VolumeBinding struct {
	handle      framework.Handle
	storage     StorageLister
	updateClaim UpdateClaimFunc
	timeout     time.Duration
	poll        time.Duration

	// assumed, written by Reserve and Unreserve and read by PreFilter
	// (all on the scheduling loop; the lock makes that not matter).
	mu      sync.Mutex
	assumed map[string]assumedClaim // claim key -> choice
}

// assumedClaim is a claim reserved for a node and the volume it is
// expected to take there ("" for a provisioned one).
type assumedClaim struct {
	node, volume string
}

var (
	_ framework.PreFilterPlugin   = (*VolumeBinding)(nil)
	_ framework.FilterPlugin      = (*VolumeBinding)(nil)
	_ framework.ReservePlugin     = (*VolumeBinding)(nil)
	_ framework.PreBindPlugin     = (*VolumeBinding)(nil)
	_ framework.EnqueueExtensions = (*VolumeBinding)(nil)
)

// NewVolumeBinding builds VolumeBinding from its arguments.
func NewVolumeBinding(args []byte, h framework.Handle, storage StorageLister, update UpdateClaimFunc) (*VolumeBinding, error) {
	var a VolumeBindingArgs
	if err := decodeArgs(args, &a); err != nil {
		return nil, err
	}
	timeout := int64(600)
	if a.BindTimeoutSeconds != nil {
		if *a.BindTimeoutSeconds <= 0 {
			return nil, fmt.Errorf("bindTimeoutSeconds: %d must be positive", *a.BindTimeoutSeconds)
		}
		timeout = *a.BindTimeoutSeconds
	}
	if storage == nil || update == nil {
		return nil, errors.New("no storage lister or claim writer")
	}
	return &VolumeBinding{handle: h, storage: storage, updateClaim: update, timeout: time.Duration(timeout) * time.Second,
		poll: 100 * time.Millisecond, assumed: map[string]assumedClaim{}}, nil
}

func (*VolumeBinding) Name() string { return VolumeBindingName }

const volumeBindingKey framework.StateKey = VolumeBindingName

// podVolumes is a pod's claims as PreFilter found them.
type podVolumes struct {
	// bound are the volumes of the claims bound already.
	bound []*corev1.PersistentVolume
	// unbound are the claims of WaitForFirstConsumer classes to bind.
	unbound []unboundClaim
	// volumes are the volumes free for the unbound claims (those other
	// pods' reservations took excluded).
	volumes []*corev1.PersistentVolume
	// missingPV: a bound claim's volume does not exist.
	missingPV bool
	// chosen, set by Reserve: the claims to hand to the PV controller.
	chosen []*corev1.PersistentVolumeClaim
}

type unboundClaim struct {
	claim *corev1.PersistentVolumeClaim
	class *storagev1.StorageClass
	// node is the node the claim is already selected for ("" for none):
	// by its annotation or by another pod's reservation.
	node string
}

func (s *podVolumes) Clone() framework.StateData { return s } // read-only after PreFilter

// collectVolumes sorts the pod's claims into bound and unbound ones, or
// returns the status that makes the pod unschedulable. assumed are the
// claims reserved by earlier cycles.
func collectVolumes(pod *corev1.Pod, storage StorageLister, assumed map[string]assumedClaim) (*podVolumes, *framework.Status) {
	ns := pod.GetMetadata().GetNamespace()
	out := &podVolumes{}
	taken := map[string]bool{}
	for _, a := range assumed {
		if a.volume != "" {
			taken[a.volume] = true
		}
	}
	for _, name := range claimNames(pod) {
		claim, ok := storage.Claim(ns, name)
		if !ok {
			return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolumeclaim %q not found", name))
		}
		if claim.GetMetadata().GetDeletionTimestamp() != nil {
			return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolumeclaim %q is being deleted", name))
		}
		if vn := claim.GetSpec().GetVolumeName(); vn != "" {
			vol, ok := storage.Volume(vn)
			if !ok {
				out.missingPV = true
				continue
			}
			out.bound = append(out.bound, vol)
			continue
		}
		className := volumematch.ClaimClass(claim)
		class, ok := storage.Class(className)
		if !ok && className != "" {
			return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("storageclass.storage.k8s.io %q not found", className))
		}
		if class.GetVolumeBindingMode() != api.VolumeBindingWaitForFirstConsumer {
			return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, msgUnboundImmediate)
		}
		u := unboundClaim{claim: claim, class: class, node: claim.GetMetadata().GetAnnotations()[api.AnnSelectedNode]}
		if a, ok := assumed[claimKey(claim)]; ok {
			u.node = a.node
			delete(taken, a.volume) // its own reservation
		}
		out.unbound = append(out.unbound, u)
	}
	if len(out.unbound) > 0 {
		for _, v := range storage.Volumes() {
			if !taken[v.GetMetadata().GetName()] {
				out.volumes = append(out.volumes, v)
			}
		}
	}
	return out, nil
}

// fits reports whether the pod's claims allow node; for each unbound
// claim it returns the volume it would take there (nil: provisioned).
func (s *podVolumes) fits(node *corev1.Node) ([]*corev1.PersistentVolume, *framework.Status) {
	if s.missingPV {
		return nil, statusPVNotExist
	}
	for _, vol := range s.bound {
		if ok, err := volumematch.VolumeFitsNode(vol, node); err != nil || !ok {
			return nil, statusNodeConflict
		}
	}
	if len(s.unbound) == 0 {
		return nil, nil
	}
	name := node.GetMetadata().GetName()
	picks := make([]*corev1.PersistentVolume, len(s.unbound))
	free := s.volumes
	for i, u := range s.unbound {
		if u.node != "" && u.node != name {
			return nil, statusBindConflict
		}
		vol, err := volumematch.FindMatch(u.claim, free, true, node)
		if err != nil {
			return nil, statusBindConflict
		}
		if vol != nil {
			picks[i] = vol
			free = without(free, vol)
			continue
		}
		if !canProvision(u.class, node) {
			return nil, statusBindConflict
		}
	}
	return picks, nil
}

// canProvision reports whether class provisions volumes that node may
// use: it has a provisioner and its allowedTopologies (if any) match the
// node's labels.
func canProvision(class *storagev1.StorageClass, node *corev1.Node) bool {
	if class.GetProvisioner() == "" || class.GetProvisioner() == api.NoProvisioner {
		return false
	}
	terms := class.GetAllowedTopologies()
	if len(terms) == 0 {
		return true
	}
	labels := node.GetMetadata().GetLabels()
	for _, t := range terms {
		if topologyTermMatches(t, labels) {
			return true
		}
	}
	return false
}

// topologyTermMatches: every requirement of t is met (the node's label
// has one of its values).
func topologyTermMatches(t *corev1.TopologySelectorTerm, labels map[string]string) bool {
	for _, r := range t.GetMatchLabelExpressions() {
		v, ok := labels[r.GetKey()]
		if !ok || !slices.Contains(r.GetValues(), v) {
			return false
		}
	}
	return true
}

func without(vols []*corev1.PersistentVolume, vol *corev1.PersistentVolume) []*corev1.PersistentVolume {
	out := make([]*corev1.PersistentVolume, 0, len(vols))
	for _, v := range vols {
		if v != vol {
			out = append(out, v)
		}
	}
	return out
}

func claimKey(c *corev1.PersistentVolumeClaim) string {
	return c.GetMetadata().GetNamespace() + "/" + c.GetMetadata().GetName()
}

// PreFilter checks the pod's claims (see VolumeBinding) and skips pods
// without any.
func (p *VolumeBinding) PreFilter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo) *framework.Status {
	if !hasClaims(pod.Pod) {
		return skip
	}
	p.mu.Lock()
	p.forgetBound()
	s, st := collectVolumes(pod.Pod, p.storage, p.assumed)
	p.mu.Unlock()
	if st != nil {
		return st
	}
	state.Write(volumeBindingKey, s)
	return nil
}

// forgetBound drops the reservations of claims that are bound or gone:
// the caches show the outcome now. Called with mu held.
func (p *VolumeBinding) forgetBound() {
	for key, a := range p.assumed {
		ns, name, _ := strings.Cut(key, "/")
		if c, ok := p.storage.Claim(ns, name); !ok || c.GetSpec().GetVolumeName() != "" {
			delete(p.assumed, key)
		} else if a.volume != "" {
			if v, ok := p.storage.Volume(a.volume); !ok || v.GetSpec().GetClaimRef() != nil {
				delete(p.assumed, key) // taken (by its claim or another)
			}
		}
	}
}

func hasClaims(pod *corev1.Pod) bool {
	for _, v := range pod.GetSpec().GetVolumes() {
		if v.GetPersistentVolumeClaim().GetClaimName() != "" {
			return true
		}
	}
	return false
}

// claimNames are the claims the pod's volumes name (in its namespace).
func claimNames(pod *corev1.Pod) []string {
	var out []string
	for _, v := range pod.GetSpec().GetVolumes() {
		if name := v.GetPersistentVolumeClaim().GetClaimName(); name != "" {
			out = append(out, name)
		}
	}
	return out
}

func (*VolumeBinding) PreFilterExtensions() framework.PreFilterExtensions { return nil }

// Filter checks the node against the pod's claims (see VolumeBinding).
func (p *VolumeBinding) Filter(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	s, err := readVolumes(state)
	if err != nil {
		return framework.AsStatus(err)
	}
	if ni.Node == nil {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, "node not found")
	}
	_, st := s.fits(ni.Node)
	return st
}

func readVolumes(state *framework.CycleState) (*podVolumes, error) {
	d, err := state.Read(volumeBindingKey)
	if err != nil {
		return nil, err
	}
	return d.(*podVolumes), nil
}

// Reserve assumes the pod's unbound claims chosen for node (see
// VolumeBinding) and records the claims PreBind hands on.
func (p *VolumeBinding) Reserve(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, node string) *framework.Status {
	s, err := readVolumes(state)
	if err != nil || len(s.unbound) == 0 {
		return nil // no claims (PreFilter skipped) or none to bind
	}
	ni := p.handle.Snapshot().Get(node)
	if ni == nil || ni.Node == nil {
		return framework.NewStatus(framework.Error, fmt.Sprintf("node %q not found", node))
	}
	picks, st := s.fits(ni.Node)
	if !st.IsSuccess() {
		return st
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s.chosen = s.chosen[:0]
	for i, u := range s.unbound {
		a := assumedClaim{node: node}
		if picks[i] != nil {
			a.volume = picks[i].GetMetadata().GetName()
		}
		p.assumed[claimKey(u.claim)] = a
		if u.claim.GetMetadata().GetAnnotations()[api.AnnSelectedNode] != node {
			s.chosen = append(s.chosen, u.claim)
		}
	}
	return nil
}

// Unreserve forgets the reservations Reserve made.
func (p *VolumeBinding) Unreserve(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, _ string) {
	s, err := readVolumes(state)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range s.unbound {
		delete(p.assumed, claimKey(u.claim))
	}
}

// PreBind hands the chosen claims to the PV controller (the
// selected-node annotation) and waits until all the pod's unbound claims
// are bound. On failure it takes back the annotations it wrote.
func (p *VolumeBinding) PreBind(ctx context.Context, state *framework.CycleState, _ *framework.PodInfo, node string) *framework.Status {
	s, err := readVolumes(state)
	if err != nil || len(s.unbound) == 0 {
		return nil
	}
	var written []*corev1.PersistentVolumeClaim
	err = p.selectNode(ctx, s, node, &written)
	if err == nil {
		err = p.waitBound(ctx, s, node)
	}
	if err == nil {
		return nil
	}
	// Take back the choices so that the claims may go elsewhere (the pod
	// is retried), with a bounded context of its own: ctx may be over.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, c := range written {
		if cur, ok := p.storage.Claim(c.GetMetadata().GetNamespace(), c.GetMetadata().GetName()); ok &&
			cur.GetSpec().GetVolumeName() == "" && cur.GetMetadata().GetAnnotations()[api.AnnSelectedNode] == node {
			_ = p.updateClaim(rctx, withoutSelectedNode(cur))
		}
	}
	return framework.AsStatus(err)
}

// selectNode writes the selected-node annotation on the chosen claims,
// appending each written claim to written.
func (p *VolumeBinding) selectNode(ctx context.Context, s *podVolumes, node string, written *[]*corev1.PersistentVolumeClaim) error {
	for _, c := range s.chosen {
		next := withSelectedNode(c, node)
		if err := p.updateClaim(ctx, next); err != nil {
			return fmt.Errorf("persistentvolumeclaim %q: selecting node %q: %w", c.GetMetadata().GetName(), node, err)
		}
		*written = append(*written, next)
	}
	return nil
}

// waitBound polls the claims cache until every unbound claim of the pod
// is bound, the timeout passes, or a claim can no longer be bound for
// node.
func (p *VolumeBinding) waitBound(ctx context.Context, s *podVolumes, node string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	tick := time.NewTicker(p.poll)
	defer tick.Stop()
	for {
		done, err := claimsBound(s.unbound, p.storage, node)
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("binding volumes: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// claimsBound reports whether every claim is bound; an error says one
// cannot be for node any more (deleted or made again, or its selected
// node was taken back, as the PV controller does when provisioning
// fails).
func claimsBound(claims []unboundClaim, storage StorageLister, node string) (bool, error) {
	for _, u := range claims {
		m := u.claim.GetMetadata()
		cur, ok := storage.Claim(m.GetNamespace(), m.GetName())
		switch {
		case !ok || cur.GetMetadata().GetUid() != m.GetUid():
			return false, fmt.Errorf("persistentvolumeclaim %q not found", m.GetName())
		case cur.GetSpec().GetVolumeName() != "":
			continue
		case cur.GetMetadata().GetAnnotations()[api.AnnSelectedNode] != node:
			return false, fmt.Errorf("persistentvolumeclaim %q: selectedNode annotation reset", m.GetName())
		default:
			return false, nil
		}
	}
	return true, nil
}

func withSelectedNode(c *corev1.PersistentVolumeClaim, node string) *corev1.PersistentVolumeClaim {
	next := proto.Clone(c).(*corev1.PersistentVolumeClaim)
	if next.Metadata == nil {
		next.Metadata = &metav1.ObjectMeta{}
	}
	if next.Metadata.Annotations == nil {
		next.Metadata.Annotations = map[string]string{}
	}
	next.Metadata.Annotations[api.AnnSelectedNode] = node
	return next
}

func withoutSelectedNode(c *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	next := proto.Clone(c).(*corev1.PersistentVolumeClaim)
	delete(next.GetMetadata().GetAnnotations(), api.AnnSelectedNode)
	return next
}

// EventsToRegister: a claim added or changed (bound, annotated), a
// volume added or changed (released, made), a class added, or a node
// added or relabelled may let a rejected pod's volumes fit.
func (*VolumeBinding) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.PersistentVolumeClaimEvent, Action: framework.Add | framework.UpdateObject},
		{Resource: framework.PersistentVolumeEvent, Action: framework.Add | framework.UpdateObject},
		{Resource: framework.StorageClassEvent, Action: framework.Add | framework.UpdateObject},
		{Resource: framework.NodeEvent, Action: framework.Add | framework.UpdateNodeLabel},
	}
}

// StaticStorage is a StorageLister over fixed objects, as
// framework.StaticSnapshot is a fixed snapshot: for validating a plugin
// set and for tests.
type StaticStorage struct {
	PersistentVolumeClaims []*corev1.PersistentVolumeClaim
	PersistentVolumes      []*corev1.PersistentVolume
	StorageClasses         []*storagev1.StorageClass
	CSINodes               []*storagev1.CSINode
}

func (s *StaticStorage) Claim(namespace, name string) (*corev1.PersistentVolumeClaim, bool) {
	for _, c := range s.PersistentVolumeClaims {
		if c.GetMetadata().GetNamespace() == namespace && c.GetMetadata().GetName() == name {
			return c, true
		}
	}
	return nil, false
}

func (s *StaticStorage) Volume(name string) (*corev1.PersistentVolume, bool) {
	for _, v := range s.PersistentVolumes {
		if v.GetMetadata().GetName() == name {
			return v, true
		}
	}
	return nil, false
}

func (s *StaticStorage) Volumes() []*corev1.PersistentVolume { return s.PersistentVolumes }

func (s *StaticStorage) Class(name string) (*storagev1.StorageClass, bool) {
	for _, c := range s.StorageClasses {
		if c.GetMetadata().GetName() == name {
			return c, true
		}
	}
	return nil, false
}

func (s *StaticStorage) CSINode(name string) (*storagev1.CSINode, bool) {
	for _, c := range s.CSINodes {
		if c.GetMetadata().GetName() == name {
			return c, true
		}
	}
	return nil, false
}
