package apiserver_test

import (
	"os/exec"
	"strings"
	"testing"

	"keel.dev/keel/pkg/apiserver/testserver"
)

// corpusManifest uses fields of Kubernetes 1.31 that real manifests carry
// (found by hack/apply-corpus.sh): AppArmor profiles, supplementalGroupsPolicy, an nfs volume, scheduling gates,
// container resize policies, a Job success policy, a saved object's
// metadata.selfLink, a RoleBinding subject without its apiGroup.
const corpusManifest = `apiVersion: v1
kind: Pod
metadata:
  name: armored
spec:
  schedulingGates:
  - name: example.com/wait-for-data
  securityContext:
    supplementalGroups: [4000]
    supplementalGroupsPolicy: Strict
    appArmorProfile:
      type: RuntimeDefault
  containers:
  - name: app
    image: registry.local/busybox:1
    resizePolicy:
    - resourceName: cpu
      restartPolicy: NotRequired
    - resourceName: memory
      restartPolicy: RestartContainer
    securityContext:
      appArmorProfile:
        type: Localhost
        localhostProfile: deny-write
    volumeMounts:
    - name: share
      mountPath: /share
  volumes:
  - name: share
    nfs:
      server: nfs.example.com
      path: /exports
---
apiVersion: batch/v1
kind: Job
metadata:
  name: first-of-three
spec:
  completions: 6
  parallelism: 6
  completionMode: Indexed
  successPolicy:
    rules:
    - succeededIndexes: 0,2-4
      succeededCount: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: registry.local/busybox:1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: saved-from-an-old-cluster
  selfLink: /api/v1/namespaces/default/configmaps/saved-from-an-old-cluster
data:
  a: b
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: read-pods
subjects:
- kind: User
  name: jane
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
`

// TestKubectlCorpusCompat: what real upstream manifests needed, through
// the installed kubectl against an apiserver with Node,RBAC: the fields
// above apply (server-side dry run, client-side and server-side apply),
// are kept (kubectl diff finds nothing to change), and a gated pod reads
// SchedulingGated; an invalid object is reported as Kubernetes reports it,
// naming its kind and name even on a create.
func TestKubectlCorpusCompat(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	kubectl := kubectlAgainst(t, s)
	for _, args := range [][]string{
		{"apply", "--dry-run=server", "-f", "-"},
		{"apply", "-f", "-"},
		{"apply", "--server-side", "--force-conflicts", "-f", "-"},
	} {
		if out, err := kubectl(corpusManifest, args...); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := kubectl(corpusManifest, "diff", "--server-side", "--force-conflicts", "-f", "-")
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		t.Errorf("kubectl diff after applying shows a difference:\n%s", out)
	} else if err != nil {
		t.Errorf("kubectl diff: %v\n%s", err, out)
	}
	for _, tc := range []struct{ args, want string }{
		{"get pod armored -o jsonpath={.spec.containers[0].securityContext.appArmorProfile.localhostProfile}", "deny-write"},
		{"get pod armored -o jsonpath={.spec.containers[0].resizePolicy[1].restartPolicy}", "RestartContainer"},
		{"get pod armored -o jsonpath={.status.conditions[0].reason}", "SchedulingGated"},
		{"get pod armored -o jsonpath={.spec.securityContext.supplementalGroupsPolicy}", "Strict"},
		{"get pod armored -o jsonpath={.spec.volumes[0].nfs.server}", "nfs.example.com"},
		{"get pod armored --no-headers", "SchedulingGated"},
		{"get job first-of-three -o jsonpath={.spec.successPolicy.rules[0].succeededIndexes}", "0,2-4"},
		{"get rolebinding read-pods -o jsonpath={.subjects[0].apiGroup}", "rbac.authorization.k8s.io"},
		{"get configmap saved-from-an-old-cluster -o jsonpath={.data.a}", "b"},
	} {
		out, err := kubectl("", strings.Fields(tc.args)...)
		if err != nil || !strings.Contains(out, tc.want) {
			t.Errorf("kubectl %s = %q, %v; want %q", tc.args, out, err, tc.want)
		}
	}

	// A gate cannot be added back.
	out, err = kubectl("", "patch", "pod", "armored", "--type=json", "-p", `[{"op":"add","path":"/spec/schedulingGates/-","value":{"name":"again"}}]`)
	if err == nil || !strings.Contains(out, `The Pod "armored" is invalid: spec.schedulingGates: Forbidden: only deletion is allowed, but found new scheduling gate 'again'`) {
		t.Errorf("adding a scheduling gate: %v\n%s", err, out)
	}
	// A create kubectl reports as Kubernetes does: the kind and the name.
	out, err = kubectl(`apiVersion: apps/v1
kind: Deployment
metadata: {name: no-selector}
spec:
  template:
    metadata: {labels: {app: x}}
    spec:
      containers: [{name: c, image: registry.local/busybox:1}]
`, "apply", "-f", "-")
	if err == nil || !strings.Contains(out, `The Deployment "no-selector" is invalid: `) || !strings.Contains(out, "spec.selector: Required value") {
		t.Errorf("an invalid create: %v\n%s", err, out)
	}
}
