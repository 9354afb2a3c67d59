// Package audit records who did what to the API, as Kubernetes' audit log
// does: a Policy (audit.k8s.io/v1, read from --audit-policy-file) decides
// for each request the level of detail and the stages to leave out; an
// Auditor turns requests into audit.k8s.io/v1 Event JSON lines written by
// a bounded asynchronous Writer (see NewWriter) to a rotated log file
// (--audit-log-path and its size, count and age limits).
package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"keel.dev/keel/pkg/auth"
)

// APIVersion is the API version of the Policy and Event kinds.
const APIVersion = "audit.k8s.io/v1"

// Level is how much of a request is recorded, Kubernetes' audit levels in
// increasing order.
type Level string

const (
	// LevelNone records nothing.
	LevelNone Level = "None"
	// LevelMetadata records who, what, when and the outcome, without the
	// request or response body.
	LevelMetadata Level = "Metadata"
	// LevelRequest adds the request body.
	LevelRequest Level = "Request"
	// LevelRequestResponse adds the response body.
	LevelRequestResponse Level = "RequestResponse"
)

var levelOrder = map[Level]int{LevelNone: 0, LevelMetadata: 1, LevelRequest: 2, LevelRequestResponse: 3}

// AtLeast reports whether l records at least as much as other.
func (l Level) AtLeast(other Level) bool { return levelOrder[l] >= levelOrder[other] }

// Stage is a point in a request's life at which an event is written.
type Stage string

const (
	// StageRequestReceived is written as soon as the request is read.
	StageRequestReceived Stage = "RequestReceived"
	// StageResponseStarted is written when a long-running request (a
	// watch, a followed log) starts answering.
	StageResponseStarted Stage = "ResponseStarted"
	// StageResponseComplete is written once the answer is sent.
	StageResponseComplete Stage = "ResponseComplete"
	// StagePanic is written when the handler panicked.
	StagePanic Stage = "Panic"
)

var stages = []Stage{StageRequestReceived, StageResponseStarted, StageResponseComplete, StagePanic}

// Policy is audit.k8s.io/v1 Policy: rules asked in order, the first that
// matches a request decides its level; a request no rule matches is not
// recorded (level None).
type Policy struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Metadata is accepted (a name, labels) and ignored.
	Metadata map[string]any `json:"metadata,omitempty"`
	Rules    []PolicyRule   `json:"rules"`
	// OmitStages are left out for every request, besides each rule's own.
	OmitStages []Stage `json:"omitStages,omitempty"`
	// OmitManagedFields is accepted for compatibility: Keel objects carry
	// no managedFields, so there is nothing to omit.
	OmitManagedFields bool `json:"omitManagedFields,omitempty"`
}

// PolicyRule matches requests: every non-empty list must match (users by
// name, userGroups by any of the user's groups, verbs); resources and
// namespaces match only resource requests, nonResourceURLs only requests
// for other paths.
type PolicyRule struct {
	Level      Level    `json:"level"`
	Users      []string `json:"users,omitempty"`
	UserGroups []string `json:"userGroups,omitempty"`
	Verbs      []string `json:"verbs,omitempty"`
	// Resources match by API group, then resource ("pods", "pods/log",
	// "*", "*/log", "pods/*"), then, when given, object name.
	Resources []GroupResources `json:"resources,omitempty"`
	// Namespaces match the request's namespace; "" matches cluster-scoped
	// requests and requests across all namespaces.
	Namespaces []string `json:"namespaces,omitempty"`
	// NonResourceURLs match a path exactly, or by prefix when they end in
	// "*" ("/healthz*").
	NonResourceURLs   []string `json:"nonResourceURLs,omitempty"`
	OmitStages        []Stage  `json:"omitStages,omitempty"`
	OmitManagedFields *bool    `json:"omitManagedFields,omitempty"`
}

// GroupResources names resources of one API group ("" is the core group).
type GroupResources struct {
	Group         string   `json:"group,omitempty"`
	Resources     []string `json:"resources,omitempty"`
	ResourceNames []string `json:"resourceNames,omitempty"`
}

// LoadPolicy reads and checks a policy file (see ParsePolicy).
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit policy: %w", err)
	}
	return ParsePolicy(path, data)
}

// ParsePolicy decodes a Policy in YAML or JSON strictly: an unknown field,
// a value of the wrong type, an unknown level or stage, or a rule that
// mixes resources and nonResourceURLs is an error naming file and the
// field path (rules[2].resources[0].resourcez).
func ParsePolicy(file string, data []byte) (*Policy, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("audit policy %s: %s", file, fmt.Sprintf(format, args...))
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fail("%v", err)
	}
	var generic any
	if err := json.Unmarshal(js, &generic); err != nil {
		return nil, fail("%v", err)
	}
	if err := checkFields(generic, "", policyFields); err != nil {
		return nil, fail("%v", err)
	}
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fail("%s: cannot be %s (want %s)", te.Field, te.Value, te.Type)
		}
		return nil, fail("%v", err)
	}
	if err := p.validate(); err != nil {
		return nil, fail("%v", err)
	}
	return &p, nil
}

// fieldSet describes the fields an object may have: nil for a leaf, or
// the nested set of an object or of each element of a list.
type fieldSet map[string]fieldSet

var (
	groupResourceFields = fieldSet{"group": nil, "resources": nil, "resourceNames": nil}
	ruleFields          = fieldSet{"level": nil, "users": nil, "userGroups": nil, "verbs": nil, "resources": groupResourceFields,
		"namespaces": nil, "nonResourceURLs": nil, "omitStages": nil, "omitManagedFields": nil}
	policyFields = fieldSet{"apiVersion": nil, "kind": nil, "metadata": nil, "rules": ruleFields, "omitStages": nil, "omitManagedFields": nil}
)

// checkFields refuses a key of v (an object, or each object of a list)
// that fields does not name, reporting its path.
func checkFields(v any, path string, fields fieldSet) error {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			if err := checkFields(e, fmt.Sprintf("%s[%d]", path, i), fields); err != nil {
				return err
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			sub, known := fields[k]
			p := k
			if path != "" {
				p = path + "." + k
			}
			if !known {
				return fmt.Errorf("%s: unknown field", p)
			}
			if sub != nil {
				if err := checkFields(v[k], p, sub); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (p *Policy) validate() error {
	if p.APIVersion != APIVersion {
		return fmt.Errorf("apiVersion: must be %s, got %q", APIVersion, p.APIVersion)
	}
	if p.Kind != "Policy" {
		return fmt.Errorf("kind: must be Policy, got %q", p.Kind)
	}
	if err := validateStages("omitStages", p.OmitStages); err != nil {
		return err
	}
	for i, r := range p.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		if _, ok := levelOrder[r.Level]; !ok {
			return fmt.Errorf("%s.level: unsupported value %q (want None, Metadata, Request or RequestResponse)", path, r.Level)
		}
		if err := validateStages(path+".omitStages", r.OmitStages); err != nil {
			return err
		}
		if len(r.NonResourceURLs) > 0 && (len(r.Resources) > 0 || len(r.Namespaces) > 0) {
			return fmt.Errorf("%s: a rule matches either resources and namespaces or nonResourceURLs, not both", path)
		}
		for j, u := range r.NonResourceURLs {
			if !strings.HasPrefix(u, "/") && u != "*" {
				return fmt.Errorf("%s.nonResourceURLs[%d]: %q must begin with / (or be *)", path, j, u)
			}
			if i := strings.Index(u, "*"); i >= 0 && i != len(u)-1 {
				return fmt.Errorf("%s.nonResourceURLs[%d]: %q may hold * only at its end", path, j, u)
			}
		}
		for j, gr := range r.Resources {
			gpath := fmt.Sprintf("%s.resources[%d]", path, j)
			if len(gr.ResourceNames) > 0 && len(gr.Resources) == 0 {
				return fmt.Errorf("%s.resourceNames: need at least one resource", gpath)
			}
			for k, res := range gr.Resources {
				if res == "" {
					return fmt.Errorf("%s.resources[%d]: empty resource", gpath, k)
				}
				if len(gr.ResourceNames) > 0 && strings.Contains(res, "*") {
					return fmt.Errorf("%s.resources[%d]: %q: resourceNames cannot go with a wildcard resource", gpath, k, res)
				}
			}
		}
	}
	return nil
}

func validateStages(path string, ss []Stage) error {
	for i, s := range ss {
		if !slices.Contains(stages, s) {
			return fmt.Errorf("%s[%d]: unsupported value %q (want RequestReceived, ResponseStarted, ResponseComplete or Panic)", path, i, s)
		}
	}
	return nil
}

// Decision is what a policy decides for one request.
type Decision struct {
	Level Level
	// OmitStages are the stages not to write: the policy's and the
	// matching rule's.
	OmitStages []Stage
}

// Omits reports whether stage s is left out.
func (d Decision) Omits(s Stage) bool { return slices.Contains(d.OmitStages, s) }

// Evaluate decides the level of a request described by a (its user, verb,
// API group, resource with subresource, namespace and name, or its path
// for a non-resource URL): the first matching rule decides; none
// matching is LevelNone. It is pure and safe for concurrent use.
func (p *Policy) Evaluate(a auth.Attributes) Decision {
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.matches(a) {
			return Decision{Level: r.Level, OmitStages: append(slices.Clone(p.OmitStages), r.OmitStages...)}
		}
	}
	return Decision{Level: LevelNone, OmitStages: p.OmitStages}
}

func (r *PolicyRule) matches(a auth.Attributes) bool {
	if len(r.Users) > 0 && !slices.Contains(r.Users, a.User.Name) {
		return false
	}
	if len(r.UserGroups) > 0 && !slices.ContainsFunc(a.User.Groups, func(g string) bool { return slices.Contains(r.UserGroups, g) }) {
		return false
	}
	if len(r.Verbs) > 0 && !slices.Contains(r.Verbs, a.Verb) {
		return false
	}
	if len(r.Resources) > 0 || len(r.Namespaces) > 0 {
		if !a.IsResourceRequest() {
			return false
		}
		if len(r.Namespaces) > 0 && !slices.Contains(r.Namespaces, a.Namespace) {
			return false
		}
		return len(r.Resources) == 0 || slices.ContainsFunc(r.Resources, func(gr GroupResources) bool { return gr.matches(a) })
	}
	if len(r.NonResourceURLs) > 0 {
		return !a.IsResourceRequest() && slices.ContainsFunc(r.NonResourceURLs, func(u string) bool { return urlMatches(u, a.Path) })
	}
	return true
}

// matches tells whether gr names the resource of a: same group, then a
// resource pattern matching "resource/subresource" and, when names are
// listed, one of them.
func (gr GroupResources) matches(a auth.Attributes) bool {
	if gr.Group != a.APIGroup {
		return false
	}
	if len(gr.Resources) == 0 {
		return true
	}
	if len(gr.ResourceNames) > 0 && !slices.Contains(gr.ResourceNames, a.Name) {
		return false
	}
	res, sub, _ := strings.Cut(a.Resource, "/")
	for _, pat := range gr.Resources {
		pres, psub, psplit := strings.Cut(pat, "/")
		switch {
		case pat == "*" || pat == a.Resource:
			return true
		case psplit && pres == "*" && sub != "" && psub == sub:
			return true
		case psplit && psub == "*" && pres == res:
			return true
		}
	}
	return false
}

// urlMatches matches a path against a nonResourceURLs entry.
func urlMatches(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(path, prefix)
	}
	return pattern == path
}
