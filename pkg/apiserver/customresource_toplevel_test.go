package apiserver_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	apiextv1 "keel.dev/keel/pkg/apis/apiextensions/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/pki"
)

// grantsCRD declares top-level fields beyond spec and status, as real
// definitions do (a roleRef, data, rules).
const grantsCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: grants.top.example.com}
spec:
  group: top.example.com
  scope: Namespaced
  names: {plural: grants, singular: grant, kind: Grant}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Role, type: string, jsonPath: .roleRef.name}
    - {name: Keys, type: string, jsonPath: .data.owner}
    schema:
      openAPIV3Schema:
        type: object
        required: [roleRef]
        properties:
          roleRef:
            type: object
            required: [name]
            description: The role granted.
            properties:
              name: {type: string, maxLength: 10}
              kind: {type: string, default: Role}
          data:
            type: object
            additionalProperties: {type: string}
          rules:
            type: array
            items:
              type: object
              properties:
                verbs:
                  type: array
                  x-kubernetes-list-type: set
                  items: {type: string}
          subjects:
            type: array
            x-kubernetes-list-type: map
            x-kubernetes-list-map-keys: [name]
            items:
              type: object
              required: [name]
              properties:
                name: {type: string}
          template:
            type: object
            x-kubernetes-embedded-resource: true
            x-kubernetes-preserve-unknown-fields: true
`

// TestCustomResourceTopLevelFields: kubectl against an apiserver with
// Node,RBAC applies, gets (JSON and table) and server-side applies custom
// resources whose schema declares top-level fields (roleRef, data, rules):
// they are stored and served over REST and gRPC, defaulted, pruned
// (refused under --validate=strict), validated with every failing path,
// printed in columns, merged by server-side apply, and explained; list
// types and embedded resources are checked.
func TestCustomResourceTopLevelFields(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	kubectl := kubectlAgainst(t, s)
	run := func(stdin string, args ...string) string {
		t.Helper()
		out, err := kubectl(stdin, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	run(grantsCRD, "apply", "-f", "-")
	run("", "wait", "--for=condition=Established", "crd/grants.top.example.com", "--timeout=30s")

	grant := `apiVersion: top.example.com/v1
kind: Grant
metadata: {name: ops}
roleRef: {name: admin}
data: {owner: ops-team}
rules: [{verbs: [get, list]}]
`
	if out, err := kubectl(grant+"junk: 1\n", "apply", "-f", "-"); err == nil || !strings.Contains(out, `unknown field "junk"`) {
		t.Errorf("apply --validate=strict of an unknown top-level field: %v\n%s", err, out)
	}
	run(grant+"junk: 1\n", "apply", "--validate=false", "-f", "-")
	var got map[string]any
	if err := json.Unmarshal([]byte(run("", "get", "grant", "ops", "-o", "json")), &got); err != nil {
		t.Fatal(err)
	}
	if dig(got, "roleRef", "name") != "admin" || dig(got, "roleRef", "kind") != "Role" || dig(got, "data", "owner") != "ops-team" {
		t.Errorf("stored grant: %v", got)
	}
	if rules, _ := got["rules"].([]any); len(rules) != 1 {
		t.Errorf("rules %v", got["rules"])
	}
	if _, kept := got["junk"]; kept {
		t.Errorf("the unknown top-level field was kept: %v", got)
	}
	table := tableLines(run("", "get", "grants"))
	if strings.Join(table[0], ",") != "NAME,ROLE,KEYS" || len(table) != 2 || strings.Join(table[1], ",") != "ops,admin,ops-team" {
		t.Errorf("kubectl get grants:\n%v", table)
	}

	// Every failing top-level path is named.
	out, err := kubectl(`apiVersion: top.example.com/v1
kind: Grant
metadata: {name: bad}
roleRef: {kind: ClusterRole}
data: {owner: 5}
`, "apply", "-f", "-")
	if err == nil {
		t.Fatalf("an invalid grant was accepted:\n%s", out)
	}
	for _, want := range []string{"roleRef.name", "data.owner"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not name %s:\n%s", want, out)
		}
	}

	// x-kubernetes-list-type set and map items are unique, an
	// x-kubernetes-embedded-resource has apiVersion, kind and valid
	// metadata: every failing path in the 422.
	out, err = kubectl(`apiVersion: top.example.com/v1
kind: Grant
metadata: {name: dup}
roleRef: {name: admin}
rules: [{verbs: [get, get]}]
subjects: [{name: alice}, {name: alice}]
template: {metadata: {name: a/b}}
`, "apply", "-f", "-")
	if err == nil {
		t.Fatalf("a grant with duplicates was accepted:\n%s", out)
	}
	for _, want := range []string{"rules[0].verbs[1]: Duplicate value", "subjects[1]: Duplicate value", "template.apiVersion: Required value",
		"template.kind: Required value", "template.metadata.name: Invalid value"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not name %s:\n%s", want, out)
		}
	}
	run(`apiVersion: top.example.com/v1
kind: Grant
metadata: {name: templated}
roleRef: {name: admin}
template: {apiVersion: v1, kind: ConfigMap, metadata: {name: cm}, data: {a: b}}
`, "apply", "-f", "-")

	// A change to a top-level field is a change of the object's
	// generation, as a spec change is.
	run("", "patch", "grant", "ops", "--type=merge", "-p", `{"roleRef":{"name":"viewer"}}`)
	if out := run("", "get", "grant", "ops", "-o", "jsonpath={.roleRef.name} {.metadata.generation}"); out != "viewer 2" {
		t.Errorf("after a patch of roleRef: %q, want viewer 2", out)
	}

	// Server-side apply: data is a map, so two managers own a key each.
	ssa := `apiVersion: top.example.com/v1
kind: Grant
metadata: {name: applied}
roleRef: {name: admin}
data: {first: one}
`
	run(ssa, "apply", "--server-side", "-f", "-")
	run(`apiVersion: top.example.com/v1
kind: Grant
metadata: {name: applied}
data: {second: two}
`, "apply", "--server-side", "--field-manager=other", "-f", "-")
	if out := run("", "get", "grant", "applied", "-o", "jsonpath={.data.first} {.data.second} {.roleRef.name}"); out != "one two admin" {
		t.Errorf("after two managers' applies: %q", out)
	}

	out = run("", "explain", "grant.roleRef")
	if !strings.Contains(out, "The role granted.") || !strings.Contains(out, "name\t<string>") {
		t.Errorf("kubectl explain grant.roleRef:\n%s", out)
	}

	// The gRPC API carries them in the inline map.
	a, err := s.Client(pki.AdminName).API().Get(context.Background(), &apiv1.GetRequest{Resource: "grants.top.example.com", Namespace: "default", Name: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	cr := &apiextv1.CustomResource{}
	if err := a.UnmarshalTo(cr); err != nil {
		t.Fatal(err)
	}
	if string(cr.GetInline()["roleRef"].GetRaw()) != `{"kind":"Role","name":"viewer"}` || string(cr.GetInline()["data"].GetRaw()) != `{"owner":"ops-team"}` {
		t.Errorf("gRPC get: inline %v", cr.GetInline())
	}
}
