// Package quota computes what objects use of the resources a ResourceQuota
// limits, as Kubernetes' quota evaluators do: the ResourceQuota admission
// plugin charges a request's usage with it and the resourcequota
// controller recomputes a namespace's usage with it.
//
// Every object of a kind counts 1 of count/<resource> (core group) or
// count/<resource>.<group>; the legacy names services, secrets,
// configmaps, replicationcontrollers, resourcequotas and
// persistentvolumeclaims count their objects too. A pod that has not
// finished counts 1 of pods and its compute resources: cpu and memory
// (its requests), requests.<r> and limits.<r>. A terminal pod (Succeeded
// or Failed), or one past its deletion grace period, counts only as an
// object. A claim counts the storage it requests (requests.storage) and,
// under its class, <class>.storageclass.storage.k8s.io/requests.storage
// and .../persistentvolumeclaims. The functions are pure and safe for
// concurrent use.
package quota

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/api/resource"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheme"
)

// List is an amount of each named resource.
type List map[string]resource.Quantity

// legacyCounts are the object counts with a name of their own.
var legacyCounts = []string{api.ResourceServices, api.ResourceSecrets, api.ResourceConfigMaps,
	api.ResourceReplicationControllers, api.ResourceQuotas, api.ResourcePersistentVolumeClaims}

// computeOnRequest are the resources a pod's requests count twice: under
// their own name and as requests.<name>.
var computeOnRequest = []string{api.ResourceCPU, api.ResourceMemory, api.ResourceEphemeralStorage}

// CountName is the object-count resource of kind k: count/pods,
// count/deployments.apps.
func CountName(k *scheme.Kind) string { return api.ResourceCountPrefix + k.QualifiedResource() }

// Usage is what obj uses, at now (which decides whether a deleted pod's
// grace period has passed). An object of an unregistered kind uses
// nothing; an unparsable quantity is an error.
func Usage(obj proto.Message, now time.Time) (List, error) {
	k, ok := scheme.ByMessage(obj)
	if !ok {
		return List{}, nil
	}
	one := *resource.NewQuantity(1, resource.DecimalSI)
	u := List{CountName(k): one}
	if k.Group == "" && slices.Contains(legacyCounts, k.Resource) {
		u[k.Resource] = one
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		if !counted(o, now) {
			return u, nil
		}
		u[api.ResourcePods] = one
		reqs, err := api.PodRequests(o.GetSpec(), api.PodRequestsOptions{})
		if err != nil {
			return nil, err
		}
		for name, q := range reqs {
			if slices.Contains(computeOnRequest, name) {
				u[name] = q.DeepCopy()
			}
			u["requests."+name] = q.DeepCopy()
		}
		limits, err := api.PodLimits(o.GetSpec())
		if err != nil {
			return nil, err
		}
		for name, q := range limits {
			u["limits."+name] = q.DeepCopy()
		}
	case *corev1.Service:
		ports := int64(0)
		if t := o.GetSpec().GetType(); t == "NodePort" || t == "LoadBalancer" {
			ports = int64(len(o.GetSpec().GetPorts()))
		}
		u[api.ResourceServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
		if o.GetSpec().GetType() == "LoadBalancer" {
			u[api.ResourceServicesLoadBalancers] = one
		}
	case *corev1.PersistentVolumeClaim:
		if err := addClaimUsage(u, o); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// counted: the pod still counts as a pod and by its compute resources.
func counted(p *corev1.Pod, now time.Time) bool {
	if api.IsPodTerminal(p) {
		return false
	}
	m := p.GetMetadata()
	if m.GetDeletionTimestamp() != nil && m.DeletionGracePeriodSeconds != nil {
		end := m.GetDeletionTimestamp().AsTime().Add(time.Duration(m.GetDeletionGracePeriodSeconds()) * time.Second)
		return !now.After(end)
	}
	return true
}

// Scopes are the scopes of q: spec.scopes, then the scope selector's.
func scopes(q *corev1.ResourceQuota) []*corev1.ScopedResourceSelectorRequirement {
	var out []*corev1.ScopedResourceSelectorRequirement
	for _, s := range q.GetSpec().GetScopes() {
		out = append(out, &corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: api.ScopeSelectorOpExists})
	}
	return append(out, q.GetSpec().GetScopeSelector().GetMatchExpressions()...)
}

// Matches reports whether q tracks obj: every object when q has no
// scopes; else only pods, and only those every scope selects.
func Matches(q *corev1.ResourceQuota, obj proto.Message) bool {
	sc := scopes(q)
	if len(sc) == 0 {
		return true
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return false
	}
	for _, s := range sc {
		if !scopeMatches(s, pod) {
			return false
		}
	}
	return true
}

func scopeMatches(s *corev1.ScopedResourceSelectorRequirement, pod *corev1.Pod) bool {
	spec := pod.GetSpec()
	switch s.GetScopeName() {
	case api.QuotaScopeTerminating:
		return spec.ActiveDeadlineSeconds != nil && spec.GetActiveDeadlineSeconds() >= 0
	case api.QuotaScopeNotTerminating:
		return spec.ActiveDeadlineSeconds == nil || spec.GetActiveDeadlineSeconds() < 0
	case api.QuotaScopeBestEffort:
		return api.QOSClass(spec) == api.QOSBestEffort
	case api.QuotaScopeNotBestEffort:
		return api.QOSClass(spec) != api.QOSBestEffort
	case api.QuotaScopePriorityClass:
		name := spec.GetPriorityClassName()
		switch s.GetOperator() {
		case api.ScopeSelectorOpIn:
			return slices.Contains(s.GetValues(), name)
		case api.ScopeSelectorOpNotIn:
			return !slices.Contains(s.GetValues(), name)
		case api.ScopeSelectorOpExists:
			return name != ""
		case api.ScopeSelectorOpDoesNotExist:
			return name == ""
		}
	}
	return false
}

// Kinds are the kinds whose objects count toward the resources of hard:
// pods for pods and compute resources, claims for storage, the kind of
// each object count.
func Kinds(hard map[string]*metav1.Quantity) []*scheme.Kind {
	var out []*scheme.Kind
	add := func(k *scheme.Kind) {
		if k != nil && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	pods, _ := scheme.ByResource("pods")
	svcs, _ := scheme.ByResource("services")
	claims, _ := scheme.ByResource(api.ResourcePersistentVolumeClaims)
	for name := range hard {
		switch {
		case strings.HasPrefix(name, api.ResourceCountPrefix):
			add(kindOfCount(strings.TrimPrefix(name, api.ResourceCountPrefix)))
		case slices.Contains(legacyCounts, name):
			k, _ := scheme.ByResource(name)
			add(k)
		case name == api.ResourceServicesNodePorts || name == api.ResourceServicesLoadBalancers:
			add(svcs)
		case claimResource(name):
			add(claims)
		default:
			add(pods)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

// kindOfCount finds the kind of "<resource>[.<group>]", a registered
// kind or a custom resource's (its storage version), or nil.
func kindOfCount(qualified string) *scheme.Kind {
	for _, k := range slices.Concat(scheme.All(), scheme.Dynamic()) {
		if k.QualifiedResource() == qualified && k.StorageKind() == k {
			return k
		}
	}
	return nil
}

// Used is what objs (the objects of q's namespace, of the kinds Kinds
// names) use of each resource of q's spec.hard, at now: every hard
// resource is present, zero when nothing uses it.
func Used(q *corev1.ResourceQuota, objs []proto.Message, now time.Time) (List, error) {
	used := List{}
	for name := range q.GetSpec().GetHard() {
		used[name] = resource.Quantity{Format: resource.DecimalSI}
	}
	for _, o := range objs {
		if !Matches(q, o) {
			continue
		}
		u, err := Usage(o, now)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", scheme.Meta(o).Name, err)
		}
		for name, v := range u {
			if t, ok := used[name]; ok {
				t.Add(v)
				used[name] = t
			}
		}
	}
	return used, nil
}

// Add returns a + b (of the resources either names).
func Add(a, b List) List {
	out := List{}
	for _, l := range []List{a, b} {
		for name, v := range l {
			t := out[name]
			t.Add(v)
			out[name] = t
		}
	}
	return out
}

// Increase is what b uses beyond a: for each resource of b, b − a where
// that is positive (the resources b uses no more of are left out). An
// update is charged the increase of its object's usage, as Kubernetes
// does.
func Increase(a, b List) List {
	out := List{}
	for name, v := range b {
		d := v.DeepCopy()
		d.Sub(a[name])
		if d.Sign() > 0 {
			out[name] = d
		}
	}
	return out
}

// Parse parses a resource list of the API; unparsable entries are left
// out.
func Parse(list map[string]*metav1.Quantity) List {
	out := List{}
	for name, q := range list {
		if v, err := resource.ParseQuantity(q.GetString_()); err == nil {
			out[name] = v
		}
	}
	return out
}

// ToAPI is l as a resource list of the API.
func ToAPI(l List) map[string]*metav1.Quantity {
	out := make(map[string]*metav1.Quantity, len(l))
	for name, v := range l {
		out[name] = &metav1.Quantity{String_: v.String()}
	}
	return out
}

// Equal reports whether a and b name the same resources with equal
// amounts.
func Equal(a, b List) bool {
	if len(a) != len(b) {
		return false
	}
	for name, v := range a {
		w, ok := b[name]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}

// Format renders the named resources of l as Kubernetes' quota messages
// do: "pods=1,requests.cpu=500m", sorted by name.
func Format(l List, names []string) string {
	names = slices.Sorted(slices.Values(names))
	parts := make([]string, len(names))
	for i, n := range names {
		v := l[n]
		parts[i] = n + "=" + v.String()
	}
	return strings.Join(parts, ",")
}

// requiredPerContainer are the quota resources every container must
// name when a quota limits them (Kubernetes' backward-compatible rule).
var requiredPerContainer = []string{api.ResourceCPU, api.ResourceMemory, api.ResourceRequestsCPU,
	api.ResourceRequestsMemory, api.ResourceLimitsCPU, api.ResourceLimitsMemory}

// PodConstraints checks that every container of pod names each of the
// resources of hard that every container must name (cpu, memory and
// their requests.* and limits.* forms): "must specify limits.cpu for:
// a,b; requests.memory for: a", resources and containers sorted.
func PodConstraints(hard map[string]*metav1.Quantity, pod *corev1.Pod) error {
	missing := map[string][]string{}
	containers := append(slices.Clone(pod.GetSpec().GetInitContainers()), pod.GetSpec().GetContainers()...)
	for _, c := range containers {
		has := map[string]bool{}
		for name := range c.GetResources().GetRequests() {
			has[name], has["requests."+name] = true, true
		}
		for name := range c.GetResources().GetLimits() {
			has["limits."+name] = true
		}
		for _, name := range requiredPerContainer {
			if _, limited := hard[name]; limited && !has[name] {
				missing[name] = append(missing[name], c.GetName())
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(missing)) {
		parts = append(parts, name+" for: "+strings.Join(slices.Sorted(slices.Values(missing[name])), ","))
	}
	return fmt.Errorf("must specify %s", strings.Join(parts, "; "))
}
