// Package nodeaffinity parses and matches a pod's node constraints:
// spec.nodeSelector and the required node affinity, as the scheduler and
// the DaemonSet controller both judge them. Parsed values are immutable
// and safe for concurrent use.
package nodeaffinity

import (
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// NodeSelector is a parsed node selector: spec.nodeSelector AND (any of
// the required node affinity terms).
type NodeSelector struct {
	labels labels.Selector // spec.nodeSelector; nil if none
	terms  []NodeTerm      // ORed; nil if no required node affinity
	hasReq bool
}

// NodeTerm is one parsed node selector term: its expressions on labels and
// its fields (only metadata.name exists), ANDed. A term with neither
// matches nothing.
type NodeTerm struct {
	labels labels.Selector
	fields []fieldReq
	empty  bool
}

type fieldReq struct {
	op     string
	values map[string]struct{}
}

// Matches reports whether a node's labels (and name) satisfy the term.
func (t *NodeTerm) Matches(name string, nodeLabels map[string]string) bool {
	if t.empty {
		return false
	}
	if t.labels != nil && !t.labels.Matches(labels.Set(nodeLabels)) {
		return false
	}
	for _, f := range t.fields {
		_, in := f.values[name]
		if (f.op == "In") != in {
			return false
		}
	}
	return true
}

// Matches reports whether the node satisfies the selector.
func (s *NodeSelector) Matches(name string, nodeLabels map[string]string) bool {
	if s == nil {
		return true
	}
	if s.labels != nil && !s.labels.Matches(labels.Set(nodeLabels)) {
		return false
	}
	if !s.hasReq {
		return true
	}
	for i := range s.terms {
		if s.terms[i].Matches(name, nodeLabels) {
			return true
		}
	}
	return false
}

// NodeNames returns the only nodes the selector can match when its
// required node affinity names them: every term that can match has a
// metadata.name In requirement (a DaemonSet's pod has one). ok is false
// when nodes of any name may match.
func (s *NodeSelector) NodeNames() (names []string, ok bool) {
	if s == nil || !s.hasReq {
		return nil, false
	}
	all := map[string]struct{}{}
	for i := range s.terms {
		t := &s.terms[i]
		if t.empty {
			continue // matches no node
		}
		var in map[string]struct{} // the names every In of the term allows
		for _, f := range t.fields {
			if f.op != "In" {
				continue
			}
			if in == nil {
				in = maps.Clone(f.values)
				continue
			}
			maps.DeleteFunc(in, func(n string, _ struct{}) bool { _, ok := f.values[n]; return !ok })
		}
		if in == nil {
			return nil, false
		}
		maps.Copy(all, in)
	}
	return slices.Sorted(maps.Keys(all)), true
}

var nodeOps = map[string]selection.Operator{
	"In": selection.In, "NotIn": selection.NotIn, "Exists": selection.Exists,
	"DoesNotExist": selection.DoesNotExist, "Gt": selection.GreaterThan, "Lt": selection.LessThan,
}

// NewNodeTerm parses a node selector term.
func NewNodeTerm(t *corev1.NodeSelectorTerm) (NodeTerm, error) {
	nt := NodeTerm{empty: len(t.GetMatchExpressions()) == 0 && len(t.GetMatchFields()) == 0}
	if len(t.GetMatchExpressions()) > 0 {
		sel := labels.NewSelector()
		for _, e := range t.GetMatchExpressions() {
			op, ok := nodeOps[e.GetOperator()]
			if !ok {
				return NodeTerm{}, fmt.Errorf("node selector: unknown operator %q", e.GetOperator())
			}
			var vals []string
			if op != selection.Exists && op != selection.DoesNotExist {
				vals = e.GetValues()
			}
			r, err := labels.NewRequirement(e.GetKey(), op, vals)
			if err != nil {
				return NodeTerm{}, fmt.Errorf("node selector: %w", err)
			}
			sel = sel.Add(*r)
		}
		nt.labels = sel
	}
	for _, f := range t.GetMatchFields() {
		if f.GetKey() != "metadata.name" || (f.GetOperator() != "In" && f.GetOperator() != "NotIn") {
			return NodeTerm{}, fmt.Errorf("node selector: unsupported field requirement %s %s", f.GetKey(), f.GetOperator())
		}
		fr := fieldReq{op: f.GetOperator(), values: map[string]struct{}{}}
		for _, v := range f.GetValues() {
			fr.values[v] = struct{}{}
		}
		nt.fields = append(nt.fields, fr)
	}
	return nt, nil
}

// NewNodeSelector parses a pod's node selector: spec.nodeSelector and
// the required node affinity; nil when the pod has neither (it fits every
// node).
func NewNodeSelector(spec *corev1.PodSpec) (*NodeSelector, error) {
	req := spec.GetAffinity().GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution()
	if len(spec.GetNodeSelector()) == 0 && req == nil {
		return nil, nil
	}
	ns := &NodeSelector{}
	if len(spec.GetNodeSelector()) > 0 {
		ns.labels = labels.SelectorFromSet(labels.Set(spec.GetNodeSelector()))
	}
	if req != nil {
		ns.hasReq = true
		for _, t := range req.GetNodeSelectorTerms() {
			nt, err := NewNodeTerm(t)
			if err != nil {
				return nil, err
			}
			ns.terms = append(ns.terms, nt)
		}
	}
	return ns, nil
}
