package rest

import (
	"net/http"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/version"

	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// Discovery documents, built once from the registry: the legacy ones
// (APIVersions, APIGroupList, APIGroup, APIResourceList) and the
// aggregated apidiscovery.k8s.io/v2 APIGroupDiscoveryList kubectl asks
// for first.

// aggregatedType is the media type of aggregated discovery.
const aggregatedType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// resourceVerbs are the verbs of a stored kind's resource.
var resourceVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

type groupVersion struct {
	GroupVersion string `json:"groupVersion"`
	Version      string `json:"version"`
}

type apiGroup struct {
	Kind             string         `json:"kind,omitempty"`
	APIVersion       string         `json:"apiVersion,omitempty"`
	Name             string         `json:"name"`
	Versions         []groupVersion `json:"versions"`
	PreferredVersion groupVersion   `json:"preferredVersion"`
}

type apiResource struct {
	Name         string   `json:"name"`
	SingularName string   `json:"singularName"`
	Namespaced   bool     `json:"namespaced"`
	Group        string   `json:"group,omitempty"`
	Version      string   `json:"version,omitempty"`
	Kind         string   `json:"kind"`
	Verbs        []string `json:"verbs"`
	ShortNames   []string `json:"shortNames,omitempty"`
	Categories   []string `json:"categories,omitempty"`
}

type apiResourceList struct {
	Kind         string        `json:"kind"`
	APIVersion   string        `json:"apiVersion"`
	GroupVersion string        `json:"groupVersion"`
	Resources    []apiResource `json:"resources"`
}

// Aggregated discovery (apidiscovery.k8s.io/v2).
type gvk struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

type discoverySubresource struct {
	Subresource  string   `json:"subresource"`
	ResponseKind *gvk     `json:"responseKind,omitempty"`
	Verbs        []string `json:"verbs"`
}

type discoveryResource struct {
	Resource         string                 `json:"resource"`
	ResponseKind     *gvk                   `json:"responseKind,omitempty"`
	Scope            string                 `json:"scope"`
	SingularResource string                 `json:"singularResource"`
	Verbs            []string               `json:"verbs"`
	ShortNames       []string               `json:"shortNames,omitempty"`
	Categories       []string               `json:"categories,omitempty"`
	Subresources     []discoverySubresource `json:"subresources,omitempty"`
}

type discoveryVersion struct {
	Version   string              `json:"version"`
	Resources []discoveryResource `json:"resources"`
	Freshness string              `json:"freshness"`
}

type discoveryGroup struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Versions []discoveryVersion `json:"versions"`
}

type discoveryList struct {
	Kind       string           `json:"kind"`
	APIVersion string           `json:"apiVersion"`
	Metadata   struct{}         `json:"metadata"`
	Items      []discoveryGroup `json:"items"`
}

// discovery holds the documents.
type discovery struct {
	groups    []apiGroup                  // every named group, by name
	resources map[string]*apiResourceList // by group/version ("v1" for core)
	core      discoveryList               // aggregated, the core group
	named     discoveryList               // aggregated, the named groups
}

func newDiscovery(subs []Subresource) *discovery {
	d := &discovery{resources: map[string]*apiResourceList{}}
	subsOf := map[string][]Subresource{}
	for _, s := range subs {
		subsOf[s.Resource] = append(subsOf[s.Resource], s)
	}
	agg := map[string]*discoveryGroup{}
	versions := map[string]map[string]*discoveryVersion{} // group → version
	var groupNames []string
	for _, st := range strategies() {
		k := st.Info()
		gv := k.APIVersion()
		l := d.resources[gv]
		if l == nil {
			l = &apiResourceList{Kind: "APIResourceList", APIVersion: "v1", GroupVersion: gv, Resources: []apiResource{}}
			d.resources[gv] = l
		}
		if agg[k.Group] == nil {
			agg[k.Group] = &discoveryGroup{}
			agg[k.Group].Metadata.Name = k.Group
			versions[k.Group] = map[string]*discoveryVersion{}
			if k.Group != "" {
				groupNames = append(groupNames, k.Group)
			}
		}
		dv := versions[k.Group][k.Version]
		if dv == nil {
			dv = &discoveryVersion{Version: k.Version, Freshness: "Current"}
			versions[k.Group][k.Version] = dv
		}
		verbs := resourceVerbs
		if k.CreateOnly {
			verbs = []string{"create"}
		}
		if k.Computed {
			verbs = []string{"get", "list"}
		}
		singular := strings.ToLower(k.Kind)
		scope := "Cluster"
		if k.Namespaced {
			scope = "Namespaced"
		}
		l.Resources = append(l.Resources, apiResource{Name: k.Resource, SingularName: singular, Namespaced: k.Namespaced,
			Kind: k.Kind, Verbs: verbs, ShortNames: k.ShortNames, Categories: st.Categories()})
		dr := discoveryResource{Resource: k.Resource, ResponseKind: &gvk{k.Group, k.Version, k.Kind}, Scope: scope,
			SingularResource: singular, Verbs: verbs, ShortNames: k.ShortNames, Categories: st.Categories()}
		addSub := func(name string, kind gvk, verbs []string) {
			l.Resources = append(l.Resources, apiResource{Name: k.Resource + "/" + name, Namespaced: k.Namespaced,
				Group: kind.Group, Version: kind.Version, Kind: kind.Kind, Verbs: verbs})
			dr.Subresources = append(dr.Subresources, discoverySubresource{Subresource: name, ResponseKind: &kind, Verbs: verbs})
		}
		if st.HasStatus() {
			addSub("status", gvk{k.Group, k.Version, k.Kind}, []string{"get", "patch", "update"})
		}
		if st.Scale() != nil {
			addSub("scale", gvk{"autoscaling", "v1", "Scale"}, []string{"get", "patch", "update"})
		}
		if !k.Dynamic && !k.Computed { // the subresources are the stored kind's
			for _, s := range subsOf[k.Resource] {
				addSub(s.Name, gvk{s.Group, s.Version, s.Kind}, s.Verbs)
			}
		}
		dv.Resources = append(dv.Resources, dr)
	}
	// Versions newest first (v2, v1, v1beta1…), as Kubernetes orders them:
	// the first is the group's preferred version.
	for g, vs := range versions {
		for _, v := range vs {
			agg[g].Versions = append(agg[g].Versions, *v)
		}
		sort.Slice(agg[g].Versions, func(i, j int) bool {
			return version.CompareKubeAwareVersionStrings(agg[g].Versions[i].Version, agg[g].Versions[j].Version) > 0
		})
	}
	sort.Strings(groupNames)
	d.core = discoveryList{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2", Items: []discoveryGroup{*agg[""]}}
	d.named = discoveryList{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2", Items: []discoveryGroup{}}
	for _, g := range groupNames {
		var gvs []groupVersion
		for _, v := range agg[g].Versions {
			gvs = append(gvs, groupVersion{GroupVersion: g + "/" + v.Version, Version: v.Version})
		}
		d.groups = append(d.groups, apiGroup{Name: g, Versions: gvs, PreferredVersion: gvs[0]})
		d.named.Items = append(d.named.Items, *agg[g])
	}
	return d
}

// wantsAggregated: the client accepts aggregated discovery.
func wantsAggregated(r *http.Request) bool {
	for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
		p := mediaParams(a)
		if p["g"] == "apidiscovery.k8s.io" && p["v"] == "v2" && p["as"] == "APIGroupDiscoveryList" {
			return true
		}
	}
	return false
}

// mediaParams are the parameters of one media range of an Accept header,
// with the type itself under "".
func mediaParams(s string) map[string]string {
	parts := strings.Split(s, ";")
	out := map[string]string{"": strings.ToLower(strings.TrimSpace(parts[0]))}
	for _, p := range parts[1:] {
		if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok {
			out[k] = v
		}
	}
	return out
}

// serve answers the discovery paths; any other path is 404.
func (d *discovery) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		notFound(w, r)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	aggregated := wantsAggregated(r)
	writeAggregated := func(l discoveryList) {
		w.Header().Set("Vary", "Accept")
		w.Header().Set("Content-Type", aggregatedType)
		writeJSON(w, http.StatusOK, l)
	}
	switch {
	case len(parts) == 1 && parts[0] == "api":
		if aggregated {
			writeAggregated(d.core)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []map[string]string{{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host}}})
	case len(parts) == 1 && parts[0] == "apis":
		if aggregated {
			writeAggregated(d.named)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": d.groups})
	case len(parts) == 2 && parts[0] == "api" && parts[1] == "v1":
		writeJSON(w, http.StatusOK, d.resources["v1"])
	case len(parts) == 2 && parts[0] == "apis":
		for _, g := range d.groups {
			if g.Name == parts[1] {
				g.Kind, g.APIVersion = "APIGroup", "v1"
				writeJSON(w, http.StatusOK, g)
				return
			}
		}
		notFound(w, r)
	case len(parts) == 3 && parts[0] == "apis" && parts[1] != "":
		if l, ok := d.resources[parts[1]+"/"+parts[2]]; ok {
			writeJSON(w, http.StatusOK, l)
			return
		}
		notFound(w, r)
	default:
		notFound(w, r)
	}
}

// kindOf finds the kind served at group/version as resource: a static
// kind, or a served version of a custom resource.
func kindOf(group, version, resource string) (*scheme.Kind, bool) {
	name := resource
	if group != "" {
		name += "." + group // a resource two groups have (pods.metrics.k8s.io)
	}
	if k, ok := scheme.ByResource(name); ok && !k.Dynamic && k.Resource == resource && k.Group == group && k.Version == version {
		return k, true
	}
	for _, st := range registry.Dynamic() {
		k := st.Info()
		if k.Group == group && k.Version == version && k.Resource == resource && served(st) {
			return k, true
		}
	}
	return nil, false
}

// served reports whether a strategy's kind is served over REST (a custom
// resource's storage version need not be).
func served(st registry.Strategy) bool {
	s, ok := st.(interface{ Served() bool })
	return !ok || s.Served()
}

// strategies are the kinds discovery lists: the static ones, then the
// served custom resources.
func strategies() []registry.Strategy {
	var out []registry.Strategy
	out = append(out, registry.All()...)
	for _, st := range registry.Dynamic() {
		if served(st) {
			out = append(out, st)
		}
	}
	return out
}
