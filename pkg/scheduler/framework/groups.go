package framework

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
)

// PodGroup counts the placed pods that share a namespace and a label set,
// per node. Affinity terms select by namespace and labels only, so a term
// matched against a group is matched against all of its pods at once.
type PodGroup struct {
	Namespace string
	Labels    map[string]string
	Nodes     map[string]int
}

// TermKind is the kind of an affinity term of a placed pod.
type TermKind int

// Term kinds.
const (
	RequiredAffinity TermKind = iota
	RequiredAntiAffinity
	PreferredAffinity
	PreferredAntiAffinity
)

// TermGroup counts, per node, the placed pods that carry one same affinity
// term (same kind, weight, namespaces, selectors and topology key).
type TermGroup struct {
	Kind   TermKind
	Weight int32
	Term   *AffinityTerm
	Nodes  map[string]int
}

// GroupIndex aggregates placed pods into PodGroups and TermGroups. The
// scheduler cache keeps one up to date as pods come and go.
type GroupIndex struct {
	Pods  map[string]*PodGroup
	Terms map[string]*TermGroup
	// KindCount counts the TermGroups of each kind.
	KindCount [4]int
}

// NewGroupIndex returns an empty index.
func NewGroupIndex() *GroupIndex {
	return &GroupIndex{Pods: map[string]*PodGroup{}, Terms: map[string]*TermGroup{}}
}

// Add accounts pi placed on node.
func (g *GroupIndex) Add(pi *PodInfo, node string) { g.update(pi, node, 1) }

// Remove undoes Add.
func (g *GroupIndex) Remove(pi *PodInfo, node string) { g.update(pi, node, -1) }

func bump(m map[string]int, node string, delta int) {
	if m[node] += delta; m[node] <= 0 {
		delete(m, node)
	}
}

func (g *GroupIndex) update(pi *PodInfo, node string, delta int) {
	pg := g.Pods[pi.GroupKey]
	if pg == nil {
		if delta < 0 {
			return
		}
		pg = &PodGroup{Namespace: pi.Namespace, Labels: pi.Labels, Nodes: map[string]int{}}
		g.Pods[pi.GroupKey] = pg
	}
	bump(pg.Nodes, node, delta)
	if len(pg.Nodes) == 0 {
		delete(g.Pods, pi.GroupKey)
	}
	term := func(kind TermKind, weight int32, t *AffinityTerm) {
		key := string(rune('0'+kind)) + "|" + itoa(weight) + "|" + t.Signature
		tg := g.Terms[key]
		if tg == nil {
			if delta < 0 {
				return
			}
			tg = &TermGroup{Kind: kind, Weight: weight, Term: t, Nodes: map[string]int{}}
			g.Terms[key] = tg
			g.KindCount[kind]++
		}
		bump(tg.Nodes, node, delta)
		if len(tg.Nodes) == 0 {
			delete(g.Terms, key)
			g.KindCount[kind]--
		}
	}
	for i := range pi.RequiredAffinityTerms {
		term(RequiredAffinity, 0, &pi.RequiredAffinityTerms[i])
	}
	for i := range pi.RequiredAntiAffinityTerms {
		term(RequiredAntiAffinity, 0, &pi.RequiredAntiAffinityTerms[i])
	}
	for i := range pi.PreferredAffinityTerms {
		term(PreferredAffinity, pi.PreferredAffinityTerms[i].Weight, &pi.PreferredAffinityTerms[i].AffinityTerm)
	}
	for i := range pi.PreferredAntiAffinityTerms {
		term(PreferredAntiAffinity, pi.PreferredAntiAffinityTerms[i].Weight, &pi.PreferredAntiAffinityTerms[i].AffinityTerm)
	}
}

func itoa(v int32) string {
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var b [12]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// groupKey is the canonical form of a namespace and a label set.
func groupKey(ns string, l map[string]string) string {
	if len(l) == 0 {
		return ns
	}
	keys := make([]string, 0, len(l))
	n := len(ns)
	for k, v := range l {
		keys = append(keys, k)
		n += len(k) + len(v) + 2
	}
	sort.Strings(keys)
	var b strings.Builder
	b.Grow(n)
	b.WriteString(ns)
	for _, k := range keys {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(l[k])
	}
	return b.String()
}

// termSignature is the canonical form of an affinity term.
func termSignature(t *AffinityTerm) string {
	ns := make([]string, 0, len(t.Namespaces))
	for n := range t.Namespaces {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	nsSel := "-"
	if t.NamespaceSelector != nil {
		nsSel = t.NamespaceSelector.String()
	}
	return strings.Join(ns, ",") + "\x00" + nsSel + "\x00" + selectorString(t.Selector) + "\x00" + t.TopologyKey
}

func selectorString(s labels.Selector) string {
	switch {
	case s == nil:
		return "<nil>"
	case s.Empty():
		return "<everything>"
	case s.String() == "":
		return "<nothing>"
	}
	return s.String()
}
