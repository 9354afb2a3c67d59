package audit_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"keel.dev/keel/pkg/apiserver/audit"
	"keel.dev/keel/pkg/auth"
)

const testPolicy = `
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: [system:kube-proxy]
  verbs: [watch]
- level: None
  nonResourceURLs: ["/healthz*", /version]
- level: Metadata
  resources:
  - group: ""
    resources: [secrets, configmaps]
- level: Request
  resources:
  - resources: ["pods/log", "*/exec"]
- level: RequestResponse
  resources:
  - group: apps
    resources: ["deployments/*"]
  - group: ""
    resources: [services]
    resourceNames: [kubernetes]
- level: Metadata
  userGroups: [system:nodes]
  namespaces: ["", kube-system]
  omitStages: [ResponseStarted]
- level: Request
  verbs: [get]
  nonResourceURLs: ["/metrics"]
`

func TestEvaluate(t *testing.T) {
	p, err := audit.ParsePolicy("policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	alice := auth.User{Name: "alice", Groups: []string{"dev", auth.GroupAuthenticated}}
	node := auth.User{Name: "system:node:n1", Groups: []string{auth.GroupNodes}}
	proxy := auth.User{Name: auth.UserProxy}
	res := func(u auth.User, verb, group, resource, ns, name string) auth.Attributes {
		return auth.Attributes{User: u, Verb: verb, APIGroup: group, Resource: resource, Namespace: ns, Name: name}
	}
	path := func(u auth.User, verb, p string) auth.Attributes {
		return auth.Attributes{User: u, Verb: verb, Path: p}
	}
	for _, tc := range []struct {
		name  string
		attrs auth.Attributes
		level audit.Level
		omit  []audit.Stage
	}{
		{"user and verb match", res(proxy, "watch", "", "services", "", ""), audit.LevelNone, []audit.Stage{audit.StageRequestReceived}},
		{"user matches, verb does not", res(proxy, "list", "", "secrets", "", ""), audit.LevelMetadata, nil},
		{"non-resource prefix", path(alice, "get", "/healthz/etcd"), audit.LevelNone, nil},
		{"non-resource exact", path(alice, "get", "/version"), audit.LevelNone, nil},
		{"non-resource exact, longer path", path(alice, "get", "/version/x"), audit.LevelNone, nil},
		{"resource rule skips paths", path(alice, "get", "/metrics"), audit.LevelRequest, nil},
		{"core group", res(alice, "get", "", "secrets", "team", "db"), audit.LevelMetadata, nil},
		{"other group, same resource", res(alice, "get", "other", "secrets", "team", "db"), audit.LevelNone, nil},
		{"subresource named", res(alice, "get", "", "pods/log", "team", "web"), audit.LevelRequest, nil},
		{"subresource not named", res(alice, "get", "", "pods/status", "team", "web"), audit.LevelNone, nil},
		{"main resource when only a subresource is named", res(alice, "get", "", "pods", "team", "web"), audit.LevelNone, nil},
		{"*/subresource", res(alice, "create", "", "pods/exec", "team", "web"), audit.LevelRequest, nil},
		{"resource/* matches the resource", res(alice, "update", "apps", "deployments", "team", "web"), audit.LevelRequestResponse, nil},
		{"resource/* matches a subresource", res(alice, "update", "apps", "deployments/scale", "team", "web"), audit.LevelRequestResponse, nil},
		{"resourceNames match", res(alice, "get", "", "services", "default", "kubernetes"), audit.LevelRequestResponse, nil},
		{"resourceNames do not match", res(alice, "get", "", "services", "default", "web"), audit.LevelNone, nil},
		{"group and cluster scope", res(node, "get", "", "nodes", "", "n1"), audit.LevelMetadata, []audit.Stage{audit.StageResponseStarted}},
		{"group and listed namespace", res(node, "list", "", "pods", "kube-system", ""), audit.LevelMetadata, []audit.Stage{audit.StageResponseStarted}},
		{"group, other namespace", res(node, "list", "", "pods", "team", ""), audit.LevelNone, nil},
		{"namespaced rule skips paths", path(node, "post", "/x"), audit.LevelNone, nil},
		{"verb rule on path", path(alice, "get", "/metrics"), audit.LevelRequest, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Evaluate(tc.attrs)
			if d.Level != tc.level {
				t.Errorf("level %s, want %s", d.Level, tc.level)
			}
			want := append([]audit.Stage{audit.StageRequestReceived}, tc.omit...)
			if !slices.Equal(dedup(d.OmitStages), dedup(want)) {
				t.Errorf("omitted %v, want %v", d.OmitStages, want)
			}
		})
	}
}

func dedup(s []audit.Stage) []audit.Stage {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func TestParsePolicyErrors(t *testing.T) {
	head := "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown top-level field", head + "rulez: []\n", "rulez: unknown field"},
		{"unknown rule field", head + "rules:\n- level: None\n- level: Metadata\n  user: [x]\n", "rules[1].user: unknown field"},
		{"unknown resources field", head + "rules:\n- level: None\n  resources:\n  - group: \"\"\n    resourcez: [pods]\n", "rules[0].resources[0].resourcez: unknown field"},
		{"invalid level", head + "rules:\n- level: Everything\n", `rules[0].level: unsupported value "Everything"`},
		{"missing level", head + "rules:\n- users: [x]\n", `rules[0].level: unsupported value ""`},
		{"invalid stage", head + "omitStages: [Started]\nrules: []\n", `omitStages[0]: unsupported value "Started"`},
		{"invalid rule stage", head + "rules:\n- level: None\n  omitStages: [Nope]\n", `rules[0].omitStages[0]: unsupported value "Nope"`},
		{"wrong type", head + "rules:\n- level: None\n  users: alice\n", "rules.users: cannot be string"},
		{"wrong kind", "apiVersion: audit.k8s.io/v1\nkind: Pod\n", `kind: must be Policy, got "Pod"`},
		{"wrong version", "apiVersion: audit.k8s.io/v1beta1\nkind: Policy\n", "apiVersion: must be audit.k8s.io/v1"},
		{"both resources and URLs", head + "rules:\n- level: None\n  resources: [{group: \"\"}]\n  nonResourceURLs: [/x]\n", "rules[0]: a rule matches either"},
		{"names without resources", head + "rules:\n- level: None\n  resources: [{resourceNames: [x]}]\n", "rules[0].resources[0].resourceNames: need at least one resource"},
		{"inner wildcard URL", head + "rules:\n- level: None\n  nonResourceURLs: [\"/a*/b\"]\n", `rules[0].nonResourceURLs[0]: "/a*/b" may hold * only at its end`},
		{"not YAML", "rules: [\n", "audit policy bad.yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audit.ParsePolicy("bad.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.yaml") {
				t.Errorf("error %q, want it to name bad.yaml and %q", err, tc.want)
			}
		})
	}
}

func TestLoadPolicy(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(f, []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := audit.LoadPolicy(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rules) != 7 {
		t.Errorf("%d rules, want 7", len(p.Rules))
	}
	if _, err := audit.LoadPolicy(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// TestDocumentedPolicy parses the example policy of docs/audit.md.
func TestDocumentedPolicy(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/audit.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	example, _, _ := strings.Cut(rest, "```")
	if !ok || !strings.Contains(example, "kind: Policy") {
		t.Fatal("no example policy in docs/audit.md")
	}
	p, err := audit.ParsePolicy("docs/audit.md", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	secret := auth.Attributes{User: auth.User{Name: "alice"}, Verb: "create", Resource: "secrets", Namespace: "team", Name: "db"}
	if d := p.Evaluate(secret); d.Level != audit.LevelMetadata {
		t.Errorf("a secret create is recorded at %s, want Metadata", d.Level)
	}
}
