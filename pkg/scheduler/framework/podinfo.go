package framework

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/labelselector"
	"keel.dev/keel/pkg/nodeaffinity"
)

// PodInfo is a pod with everything the plugins need precomputed once: its
// requests, host ports, parsed affinity terms and node selector. A PodInfo
// is immutable once built and may be shared between goroutines; Pod must
// not be modified either (it usually comes from an informer cache).
type PodInfo struct {
	Pod       *corev1.Pod
	Key       string // namespace/name
	UID       string
	Namespace string
	Name      string
	Labels    map[string]string
	// GroupKey identifies the pod's namespace and label set (see
	// PodGroup).
	GroupKey string
	Priority int32
	// Requests is what the pod needs on a node (see PodRequests);
	// NonZeroRequests the same with defaults for missing CPU and memory
	// requests, for scoring.
	Requests, NonZeroRequests Resource
	HostPorts                 []HostPort
	// Affinity terms, parsed.
	RequiredAffinityTerms      []AffinityTerm
	RequiredAntiAffinityTerms  []AffinityTerm
	PreferredAffinityTerms     []WeightedAffinityTerm
	PreferredAntiAffinityTerms []WeightedAffinityTerm
	// NodeSelector combines spec.nodeSelector and the required node
	// affinity; nil when the pod has neither.
	NodeSelector *NodeSelector
	// PreferredNodeTerms are the preferred node affinity terms.
	PreferredNodeTerms []WeightedNodeTerm
	// SpreadConstraints are the pod's topology spread constraints, parsed.
	SpreadConstraints []SpreadConstraint
	Tolerations       []*corev1.Toleration
	// ControllerUID is the uid of the pod's controller (owner reference
	// with controller: true), "" if none.
	ControllerUID string
	// Terminating: the pod has a deletionTimestamp.
	Terminating bool
	// StartTime orders victims of equal priority (older are kept).
	StartTime time.Time
	// PreemptNever: spec.preemptionPolicy is Never.
	PreemptNever bool
	// Err is set when the pod's spec could not be parsed (a bad quantity
	// or selector); such a pod fits no node.
	Err error
}

// HostPort is one host port a pod binds.
type HostPort struct {
	IP       string // "0.0.0.0" for every address
	Protocol string // TCP, UDP or SCTP
	Port     int32
}

// AffinityTerm is a parsed pod (anti-)affinity term.
type AffinityTerm struct {
	// Namespaces the term applies to; NamespaceSelector adds those whose
	// labels match (nil: none).
	Namespaces        map[string]struct{}
	NamespaceSelector labels.Selector
	Selector          labels.Selector
	TopologyKey       string
	// Signature identifies equal terms (see TermGroup).
	Signature string
}

// WeightedAffinityTerm is a preferred term.
type WeightedAffinityTerm struct {
	AffinityTerm
	Weight int32
}

// NamespaceLabels returns the labels of a namespace (nil if unknown).
type NamespaceLabels func(namespace string) map[string]string

// Matches reports whether pod is selected by the term.
func (t *AffinityTerm) Matches(pod *PodInfo, nsLabels NamespaceLabels) bool {
	return t.MatchesLabels(pod.Namespace, pod.Labels, nsLabels)
}

// MatchesLabels reports whether pods of namespace ns with podLabels are
// selected by the term.
func (t *AffinityTerm) MatchesLabels(ns string, podLabels map[string]string, nsLabels NamespaceLabels) bool {
	if _, ok := t.Namespaces[ns]; !ok {
		if t.NamespaceSelector == nil {
			return false
		}
		var nl map[string]string
		if nsLabels != nil {
			nl = nsLabels(ns)
		}
		if !t.NamespaceSelector.Matches(labels.Set(nl)) {
			return false
		}
	}
	return t.Selector.Matches(labels.Set(podLabels))
}

// NodeSelector and NodeTerm are parsed node selectors (pkg/nodeaffinity).
type (
	NodeSelector = nodeaffinity.NodeSelector
	NodeTerm     = nodeaffinity.NodeTerm
)

// WeightedNodeTerm is a preferred node affinity term.
type WeightedNodeTerm struct {
	NodeTerm
	Weight int32
}

// SpreadConstraint is a parsed topology spread constraint.
type SpreadConstraint struct {
	MaxSkew     int32
	TopologyKey string
	// Hard: whenUnsatisfiable is DoNotSchedule (else ScheduleAnyway).
	Hard       bool
	Selector   labels.Selector
	MinDomains int32
	// HonorNodeAffinity (nodeAffinityPolicy, default Honor) and
	// HonorTaints (nodeTaintsPolicy, default Ignore) decide which nodes'
	// domains count.
	HonorNodeAffinity bool
	HonorTaints       bool
}

// NewPodInfo precomputes a pod's scheduling data. A pod whose spec cannot
// be parsed gets Err set.
func NewPodInfo(pod *corev1.Pod) *PodInfo {
	meta, spec := pod.GetMetadata(), pod.GetSpec()
	pi := &PodInfo{
		Pod:         pod,
		Namespace:   meta.GetNamespace(),
		Name:        meta.GetName(),
		UID:         meta.GetUid(),
		Labels:      meta.GetLabels(),
		Priority:    spec.GetPriority(),
		Tolerations: spec.GetTolerations(),
		Terminating: meta.GetDeletionTimestamp() != nil,
	}
	pi.Key = pi.Namespace + "/" + pi.Name
	pi.GroupKey = groupKey(pi.Namespace, pi.Labels)
	pi.PreemptNever = spec.GetPreemptionPolicy() == api.PreemptNever
	if st := pod.GetStatus().GetStartTime(); st != nil {
		pi.StartTime = st.AsTime()
	} else if ct := meta.GetCreationTimestamp(); ct != nil {
		pi.StartTime = ct.AsTime()
	}
	pi.ControllerUID = api.ControllerRef(meta).GetUid()
	var errs []error
	var err error
	if pi.Requests, pi.NonZeroRequests, err = PodRequests(spec); err != nil {
		errs = append(errs, err)
	}
	for _, c := range append(spec.GetInitContainers()[:len(spec.GetInitContainers()):len(spec.GetInitContainers())], spec.GetContainers()...) {
		for _, p := range c.GetPorts() {
			if p.GetHostPort() <= 0 {
				continue
			}
			hp := HostPort{IP: p.GetHostIp(), Protocol: p.GetProtocol(), Port: p.GetHostPort()}
			if hp.IP == "" {
				hp.IP = "0.0.0.0"
			}
			if hp.Protocol == "" {
				hp.Protocol = api.ProtocolTCP
			}
			pi.HostPorts = append(pi.HostPorts, hp)
		}
	}
	aff := spec.GetAffinity()
	for _, t := range aff.GetPodAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution() {
		at, err := newAffinityTerm(pod, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pi.RequiredAffinityTerms = append(pi.RequiredAffinityTerms, at)
	}
	for _, t := range aff.GetPodAntiAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution() {
		at, err := newAffinityTerm(pod, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pi.RequiredAntiAffinityTerms = append(pi.RequiredAntiAffinityTerms, at)
	}
	for _, w := range aff.GetPodAffinity().GetPreferredDuringSchedulingIgnoredDuringExecution() {
		at, err := newAffinityTerm(pod, w.GetPodAffinityTerm())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pi.PreferredAffinityTerms = append(pi.PreferredAffinityTerms, WeightedAffinityTerm{AffinityTerm: at, Weight: w.GetWeight()})
	}
	for _, w := range aff.GetPodAntiAffinity().GetPreferredDuringSchedulingIgnoredDuringExecution() {
		at, err := newAffinityTerm(pod, w.GetPodAffinityTerm())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pi.PreferredAntiAffinityTerms = append(pi.PreferredAntiAffinityTerms, WeightedAffinityTerm{AffinityTerm: at, Weight: w.GetWeight()})
	}
	if ns, err := nodeaffinity.NewNodeSelector(spec); err != nil {
		errs = append(errs, err)
	} else {
		pi.NodeSelector = ns
	}
	for _, p := range aff.GetNodeAffinity().GetPreferredDuringSchedulingIgnoredDuringExecution() {
		t, err := nodeaffinity.NewNodeTerm(p.GetPreference())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pi.PreferredNodeTerms = append(pi.PreferredNodeTerms, WeightedNodeTerm{NodeTerm: t, Weight: p.GetWeight()})
	}
	for _, c := range spec.GetTopologySpreadConstraints() {
		sc, err := newSpreadConstraint(pod, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pi.SpreadConstraints = append(pi.SpreadConstraints, sc)
	}
	if len(errs) > 0 {
		pi.Err = errors.Join(errs...)
	}
	return pi
}

// HasAffinity reports whether the pod has any pod affinity or anti-affinity
// term (it then counts in NodeInfo.PodsWithAffinity).
func (pi *PodInfo) HasAffinity() bool {
	return len(pi.RequiredAffinityTerms)+len(pi.RequiredAntiAffinityTerms)+len(pi.PreferredAffinityTerms)+len(pi.PreferredAntiAffinityTerms) > 0
}

// selectorWithKeys parses sel and adds, for each key of in (notIn) the pod
// has, a requirement that the key has (does not have) the pod's value.
func selectorWithKeys(pod *corev1.Pod, sel *metav1.LabelSelector, in, notIn []string) (labels.Selector, error) {
	s, err := labelselector.Parse(sel)
	if err != nil {
		return nil, err
	}
	podLabels := pod.GetMetadata().GetLabels()
	add := func(keys []string, op selection.Operator) error {
		for _, k := range keys {
			v, ok := podLabels[k]
			if !ok {
				continue
			}
			r, err := labels.NewRequirement(k, op, []string{v})
			if err != nil {
				return err
			}
			s = s.Add(*r)
		}
		return nil
	}
	if err := add(in, selection.In); err != nil {
		return nil, err
	}
	if err := add(notIn, selection.NotIn); err != nil {
		return nil, err
	}
	return s, nil
}

func newAffinityTerm(pod *corev1.Pod, t *corev1.PodAffinityTerm) (AffinityTerm, error) {
	if t.GetTopologyKey() == "" {
		return AffinityTerm{}, errors.New("pod affinity term: empty topologyKey")
	}
	sel, err := selectorWithKeys(pod, t.GetLabelSelector(), t.GetMatchLabelKeys(), t.GetMismatchLabelKeys())
	if err != nil {
		return AffinityTerm{}, fmt.Errorf("pod affinity term: %w", err)
	}
	at := AffinityTerm{Selector: sel, TopologyKey: t.GetTopologyKey(), Namespaces: map[string]struct{}{}}
	for _, ns := range t.GetNamespaces() {
		at.Namespaces[ns] = struct{}{}
	}
	if t.GetNamespaceSelector() != nil {
		if at.NamespaceSelector, err = labelselector.Parse(t.GetNamespaceSelector()); err != nil {
			return AffinityTerm{}, fmt.Errorf("pod affinity term namespaceSelector: %w", err)
		}
	}
	if len(at.Namespaces) == 0 && at.NamespaceSelector == nil {
		at.Namespaces[pod.GetMetadata().GetNamespace()] = struct{}{}
	}
	at.Signature = termSignature(&at)
	return at, nil
}

func newSpreadConstraint(pod *corev1.Pod, c *corev1.TopologySpreadConstraint) (SpreadConstraint, error) {
	sel, err := selectorWithKeys(pod, c.GetLabelSelector(), c.GetMatchLabelKeys(), nil)
	if err != nil {
		return SpreadConstraint{}, fmt.Errorf("topology spread constraint: %w", err)
	}
	if c.GetTopologyKey() == "" || c.GetMaxSkew() <= 0 {
		return SpreadConstraint{}, errors.New("topology spread constraint: needs a topologyKey and maxSkew > 0")
	}
	sc := SpreadConstraint{
		MaxSkew:           c.GetMaxSkew(),
		TopologyKey:       c.GetTopologyKey(),
		Hard:              c.GetWhenUnsatisfiable() != "ScheduleAnyway",
		Selector:          sel,
		MinDomains:        c.GetMinDomains(),
		HonorNodeAffinity: c.GetNodeAffinityPolicy() != "Ignore",
		HonorTaints:       c.GetNodeTaintsPolicy() == "Honor",
	}
	if sc.MinDomains <= 0 {
		sc.MinDomains = 1
	}
	return sc, nil
}
