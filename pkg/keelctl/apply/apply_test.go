package apply_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/manifest"
)

const examplesDir = "../../../manifests/examples"

// TestApplyExamples applies every example manifest: created (or configured
// for a second file naming the same object), then unchanged when applied
// again; then the whole directory at once.
func TestApplyExamples(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	entries, err := os.ReadDir(examplesDir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); ext == ".yaml" || ext == ".yml" || ext == ".json" {
			files = append(files, filepath.Join(examplesDir, e.Name()))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := manifest.Decode(f, data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out := k.Run("apply", "-f", f).OK(t)
		for _, o := range objs {
			name := cmdutil.ObjName(o.Kind, o.Message)
			want := name + " created"
			if seen[name] {
				want = name + " configured"
			}
			seen[name] = true
			if !strings.Contains(out, want+"\n") {
				t.Errorf("apply %s: output lacks %q:\n%s", f, want, out)
			}
			again := k.Run("apply", "-f", f).OK(t)
			if !strings.Contains(again, name+" unchanged\n") {
				t.Errorf("re-apply %s: output lacks %q:\n%s", f, name+" unchanged", again)
			}
		}
	}
	// An example copied and changed: a field removed from the file goes,
	// a label another client set stays.
	data, err := os.ReadFile(filepath.Join(examplesDir, "nginx-deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f := keelctltest.Write(t, t.TempDir(), "nginx.yaml", string(data))
	if out := k.Run("apply", "-f", f).OK(t); out != "deployment.apps/nginx-deployment unchanged\n" {
		t.Errorf("same manifest from another file: %q", out)
	}
	k.Run("label", "deploy", "nginx-deployment", "team=web").OK(t)
	keelctltest.Write(t, filepath.Dir(f), "nginx.yaml", strings.Replace(string(data), "        ports:\n        - containerPort: 80\n", "", 1))
	if out := k.Run("apply", "-f", f).OK(t); out != "deployment.apps/nginx-deployment configured\n" {
		t.Errorf("apply without ports: %q", out)
	}
	d, err := k.C.Deployments("default").Get(k.Ctx(), "nginx-deployment")
	if err != nil {
		t.Fatal(err)
	}
	if ports := d.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetPorts(); len(ports) != 0 {
		t.Errorf("ports removed from the file still there: %v", ports)
	}
	if d.GetMetadata().GetLabels()["team"] != "web" {
		t.Errorf("label set by another client lost: %v", d.GetMetadata().GetLabels())
	}

	// The whole directory, twice: everything applies.
	k.Run("apply", "-f", examplesDir).OK(t)
	out := k.Run("apply", "-f", examplesDir).OK(t)
	if !strings.Contains(out, "deployment.apps/nginx-deployment unchanged\n") {
		t.Errorf("directory re-apply:\n%s", out)
	}
}

// TestApplyThreeWay checks the merge: removing a field from the file
// removes it, fields others set survive, the file's values win.
func TestApplyThreeWay(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	dir := t.TempDir()
	f := keelctltest.Write(t, dir, "web.yaml", keelctltest.WebDeployment)
	if out := k.Run("apply", "-f", f).OK(t); out != "deployment.apps/web created\n" {
		t.Fatalf("first apply: %q", out)
	}
	ctx := k.Ctx()
	d, err := k.C.Deployments("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if d.GetMetadata().GetAnnotations()[api.LastAppliedConfigAnnotation] == "" {
		t.Fatal("no last-applied annotation")
	}
	uid, created := d.GetMetadata().GetUid(), d.GetMetadata().GetCreationTimestamp().AsTime()

	// Another client: a label, an annotation, an env var in the
	// container, more replicas.
	k.Run("label", "deploy", "web", "owner=ops").OK(t)
	k.Run("annotate", "deploy", "web", "note=keep me").OK(t)
	k.Run("scale", "deploy", "web", "--replicas=4").OK(t)
	err = client.RetryOnConflict(client.DefaultRetry, func() error {
		d, err := k.C.Deployments("default").Get(ctx, "web")
		if err != nil {
			return err
		}
		c := d.Spec.Template.Spec.Containers[0]
		c.Env = append(c.Env, &corev1.EnvVar{Name: "INJECTED", Value: "yes"})
		_, err = k.C.Deployments("default").Update(ctx, d, client.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// Re-applying the same file: the file's replicas win, the rest stays.
	if out := k.Run("apply", "-f", f).OK(t); out != "deployment.apps/web configured\n" {
		t.Fatalf("re-apply: %q", out)
	}
	d, err = k.C.Deployments("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if d.GetSpec().GetReplicas() != 2 {
		t.Errorf("replicas = %d, want the file's 2", d.GetSpec().GetReplicas())
	}
	if d.GetMetadata().GetLabels()["owner"] != "ops" || d.GetMetadata().GetAnnotations()["note"] != "keep me" {
		t.Errorf("label/annotation set by another client lost: %v %v", d.GetMetadata().GetLabels(), d.GetMetadata().GetAnnotations())
	}
	if env := d.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetEnv(); len(env) != 1 || env[0].GetName() != "INJECTED" {
		t.Errorf("env set by another client lost: %v", env)
	}

	// Remove a label, minReadySeconds and a port from the file.
	edited := strings.Replace(keelctltest.WebDeployment, "    stage: beta\n", "", 1)
	edited = strings.Replace(edited, "  minReadySeconds: 5\n", "", 1)
	edited = strings.Replace(edited, "        - containerPort: 443\n", "", 1)
	edited = strings.Replace(edited, "image: nginx:1.27", "image: nginx:1.28", 1)
	keelctltest.Write(t, dir, "web.yaml", edited)
	if out := k.Run("apply", "-f", f).OK(t); out != "deployment.apps/web configured\n" {
		t.Fatalf("apply after edit: %q", out)
	}
	d, err = k.C.Deployments("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	md, spec := d.GetMetadata(), d.GetSpec()
	if _, ok := md.GetLabels()["stage"]; ok {
		t.Errorf("label removed from the file still there: %v", md.GetLabels())
	}
	if md.GetLabels()["owner"] != "ops" {
		t.Errorf("label of another client lost: %v", md.GetLabels())
	}
	if spec.GetMinReadySeconds() != 0 {
		t.Errorf("minReadySeconds = %d, want removed", spec.GetMinReadySeconds())
	}
	c := spec.GetTemplate().GetSpec().GetContainers()[0]
	if len(c.GetPorts()) != 1 || c.GetPorts()[0].GetContainerPort() != 80 {
		t.Errorf("ports = %v, want only 80", c.GetPorts())
	}
	if c.GetImage() != "nginx:1.28" || len(c.GetEnv()) != 1 {
		t.Errorf("container = %v", c)
	}
	// Server-owned fields are kept.
	if md.GetUid() != uid || !md.GetCreationTimestamp().AsTime().Equal(created) || md.GetGeneration() < 2 {
		t.Errorf("server-owned metadata changed: %v", md)
	}
	if out := k.Run("apply", "-f", f).OK(t); out != "deployment.apps/web unchanged\n" {
		t.Errorf("final re-apply: %q", out)
	}

	// A config map key removed from the file goes; a service keeps its
	// allocated cluster IP and node port across applies.
	cm := keelctltest.Write(t, dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  a: \"1\"\n  b: \"2\"\n")
	k.Run("apply", "-f", cm).OK(t)
	keelctltest.Write(t, dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  a: \"1\"\n")
	k.Run("apply", "-f", cm).OK(t)
	got, err := k.C.ConfigMaps("default").Get(ctx, "conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetData()) != 1 || got.GetData()["a"] != "1" {
		t.Errorf("config map data = %v", got.GetData())
	}
	svc := keelctltest.Write(t, dir, "svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n  selector:\n    app: web\n  ports:\n  - port: 80\n")
	k.Run("apply", "-f", svc).OK(t)
	s1, err := k.C.Services("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if out := k.Run("apply", "-f", svc).OK(t); out != "service/web unchanged\n" {
		t.Errorf("service re-apply: %q", out)
	}
	keelctltest.Write(t, dir, "svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n  selector:\n    app: web2\n  ports:\n  - port: 80\n")
	k.Run("apply", "-f", svc).OK(t)
	s2, err := k.C.Services("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if s2.GetSpec().GetClusterIp() != s1.GetSpec().GetClusterIp() || s2.GetSpec().GetPorts()[0].GetNodePort() != s1.GetSpec().GetPorts()[0].GetNodePort() ||
		s2.GetSpec().GetSelector()["app"] != "web2" {
		t.Errorf("service before %v after %v", s1.GetSpec(), s2.GetSpec())
	}
}

// TestApplyMultiDocumentErrors: one document the server rejects, one that
// does not decode; the others are applied, every error is printed, the
// exit status is 1.
func TestApplyMultiDocumentErrors(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	f := keelctltest.Write(t, t.TempDir(), "all.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: first
data:
  k: v
---
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
  - name: app
    image: nginx
    ports:
    - containerPort: 70000
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
spec:
  replica: 3
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: last
`)
	r := k.Run("apply", "-f", f)
	stderr := r.Fails(t,
		`error when applying "`+f+`" (document 2): The Pod "web" is invalid: `,
		"* spec.containers[0].image: Required value",
		"* spec.containers[1].name: Duplicate value: \"app\"",
		"* spec.containers[1].ports[0].containerPort: Invalid value: 70000",
		"error: "+f+" (document 3): spec.replica: unknown field",
	)
	if r.Out != "configmap/first created\nconfigmap/last created\n" {
		t.Errorf("stdout = %q", r.Out)
	}
	ctx := k.Ctx()
	for _, n := range []string{"first", "last"} {
		if _, err := k.C.ConfigMaps("default").Get(ctx, n); err != nil {
			t.Errorf("config map %s: %v", n, err)
		}
	}
	if _, err := k.C.Pods("default").Get(ctx, "web"); !apierrors.IsNotFound(err) {
		t.Errorf("invalid pod: %v", err)
	}
	if strings.Count(stderr, "\n* ") < 3 {
		t.Errorf("not every invalid field listed:\n%s", stderr)
	}
}

func TestApplyLocalErrors(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	dir := t.TempDir()
	bad := keelctltest.Write(t, dir, "bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: {}\n")
	k.Run("apply", "-f", bad).Fails(t, "error: "+bad+": invalid YAML: line 4: ")
	badDoc := keelctltest.Write(t, dir, "bad2.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: {}\n")
	r := k.Run("apply", "-f", badDoc)
	r.Fails(t, "error: "+badDoc+" (document 2): invalid YAML: line 9: ")
	if r.Out != "configmap/ok created\n" {
		t.Errorf("the good document was not applied: %q", r.Out)
	}
	unknownKind := keelctltest.Write(t, dir, "kind.yaml", "apiVersion: apps/v1\nkind: Deploymnt\nmetadata:\n  name: x\n")
	k.Run("apply", "-f", unknownKind).Fails(t, `error: `+unknownKind+`: unknown kind "Deploymnt" for apiVersion "apps/v1"`)
	wrongType := keelctltest.Write(t, dir, "type.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: three\n")
	k.Run("apply", "-f", wrongType).Fails(t, `error: `+wrongType+`: spec.replicas: expected integer, got string "three"`)
	k.Run("apply", "-f", filepath.Join(dir, "missing.yaml")).Fails(t, "does not exist")
	noName := keelctltest.Write(t, dir, "noname.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n")
	k.Run("apply", "-f", noName).Fails(t, "resource name may not be empty")
	// A namespace in the file that -n contradicts.
	nsFile := keelctltest.Write(t, dir, "ns.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: default\n")
	k.Run("apply", "-n", "kube-system", "-f", nsFile).Fails(t, `the namespace from the provided object "default" does not match the namespace "kube-system"`)
	// A namespace that does not exist: the server's NotFound, with the file.
	k.Run("apply", "-n", "nowhere", "-f", keelctltest.Write(t, dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")).
		Fails(t, `Error from server (NotFound): error when applying "`)
	k.Run("apply").Fails(t, "must specify -f")
}

func TestApplyStdinAndDirectory(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	out := k.RunWith(keelctltest.RunOpts{Stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-stdin\n"}, "apply", "-f", "-").OK(t)
	if out != "configmap/from-stdin created\n" {
		t.Errorf("stdin apply: %q", out)
	}
	dir := t.TempDir()
	keelctltest.Write(t, dir, "b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n")
	keelctltest.Write(t, dir, "a.json", `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}`)
	keelctltest.Write(t, dir, "c.yml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
	keelctltest.Write(t, dir, "notes.txt", "not a manifest")
	keelctltest.Write(t, dir, "sub/d.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n")
	if out := k.Run("apply", "-f", dir).OK(t); out != "configmap/a created\nconfigmap/b created\nconfigmap/c created\n" {
		t.Errorf("directory apply: %q", out)
	}
	if out := k.Run("apply", "-R", "-f", dir, "-o", "name").OK(t); out != "configmap/a\nconfigmap/b\nconfigmap/c\nconfigmap/d\n" {
		t.Errorf("recursive apply: %q", out)
	}
	// Dry runs change nothing.
	k.Run("apply", "-f", keelctltest.Write(t, t.TempDir(), "e.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: e\n"), "--dry-run=server").OK(t)
	if _, err := k.C.ConfigMaps("default").Get(k.Ctx(), "e"); !apierrors.IsNotFound(err) {
		t.Errorf("dry run created the object: %v", err)
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	dir := t.TempDir()
	f := keelctltest.Write(t, dir, "web.yaml", keelctltest.WebDeployment)
	if out := k.Run("create", "-f", f).OK(t); out != "deployment.apps/web created\n" {
		t.Errorf("create: %q", out)
	}
	k.Run("create", "-f", f).Fails(t, `Error from server (AlreadyExists): error when creating "`+f+`": deployments.apps "web" already exists`)
	d, err := k.C.Deployments("default").Get(k.Ctx(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.GetMetadata().GetAnnotations()[api.LastAppliedConfigAnnotation]; ok {
		t.Error("create without --save-config recorded the last-applied configuration")
	}
	// Apply takes over an object created without it, with a warning.
	r := k.Run("apply", "-f", f)
	if r.OK(t); !strings.Contains(r.Err, "missing the "+api.LastAppliedConfigAnnotation) {
		t.Errorf("no warning: %q", r.Err)
	}
	gen := keelctltest.Write(t, dir, "gen.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: gen-\n")
	out := k.Run("create", "-f", gen).OK(t)
	if !strings.HasPrefix(out, "configmap/gen-") || !strings.HasSuffix(out, " created\n") {
		t.Errorf("create with generateName: %q", out)
	}
	k.Run("create", "--save-config", "-f", keelctltest.Write(t, dir, "saved.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: saved\n")).OK(t)
	if out := k.Run("apply", "-f", filepath.Join(dir, "saved.yaml")).OK(t); out != "configmap/saved unchanged\n" {
		t.Errorf("apply after create --save-config: %q", out)
	}
}

// TestApplyStaleResourceVersion checks that a manifest carrying a
// resourceVersion is applied only over that version: once the object has
// changed, apply is refused with a conflict and the newer object stays.
func TestApplyStaleResourceVersion(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	dir := t.TempDir()
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  color: blue\n"
	k.Run("apply", "-f", keelctltest.Write(t, dir, "cm.yaml", cm)).OK(t)
	saved := k.Run("get", "configmap", "cfg", "-o", "yaml").OK(t)
	if !strings.Contains(saved, "resourceVersion:") {
		t.Fatalf("get -o yaml has no resourceVersion:\n%s", saved)
	}

	// The saved manifest, applied while it is current, goes through.
	current := strings.Replace(saved, "color: blue", "color: green", 1)
	k.Run("apply", "-f", keelctltest.Write(t, dir, "current.yaml", current)).OK(t)

	// Applying the first saved copy again now would lose that update.
	stale := strings.Replace(saved, "color: blue", "color: red", 1)
	k.Run("apply", "-f", keelctltest.Write(t, dir, "stale.yaml", stale)).Fails(t,
		`Error from server (Conflict): error when applying "`,
		`the object has been modified; please apply your changes to the latest version and try again`)
	got, err := k.C.ConfigMaps("default").Get(k.Ctx(), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	if c := got.GetData()["color"]; c != "green" {
		t.Errorf("color = %q after the stale apply, want green (the newer update)", c)
	}
}

// TestApplyAnnotationsTooLarge checks that apply refuses, before sending
// anything, an object whose last-applied annotation would take its
// annotations over 256 KiB, and names the sizes and what to use instead.
func TestApplyAnnotationsTooLarge(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	dir := t.TempDir()
	big := strings.Repeat("x", 200<<10) // under the limit alone, over it twice
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  annotations:\n    note: " + big + "\n"
	f := keelctltest.Write(t, dir, "big.yaml", cm)
	for _, run := range [][]string{{"apply", "-f", f}, {"apply", "-f", f, "--dry-run=server"}} {
		k.Run(run...).Fails(t,
			`error: error when applying "`+f+`": configmaps "big": metadata.annotations: Too long`,
			"over the limit of 262144 bytes", `use "keelctl create"`)
	}
	if _, err := k.C.ConfigMaps("default").Get(k.Ctx(), "big"); !apierrors.IsNotFound(err) {
		t.Fatalf("the object was written (get: %v)", err)
	}

	// create does not record the annotation, so the object fits; apply of
	// it afterwards is refused the same way and changes nothing.
	k.Run("create", "-f", f).OK(t)
	before, err := k.C.ConfigMaps("default").Get(k.Ctx(), "big")
	if err != nil {
		t.Fatal(err)
	}
	k.Run("apply", "-f", f).Fails(t, "metadata.annotations: Too long")
	after, err := k.C.ConfigMaps("default").Get(k.Ctx(), "big")
	if err != nil {
		t.Fatal(err)
	}
	if after.GetMetadata().GetResourceVersion() != before.GetMetadata().GetResourceVersion() {
		t.Error("apply changed the object")
	}
}

// TestApplyReportsEveryProblem: a pod with problems in five places (a
// malformed quantity among them) is refused with all five named, and
// nothing is created.
func TestApplyReportsEveryProblem(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	bad := keelctltest.Write(t, t.TempDir(), "pod.yaml", `apiVersion: v1
kind: Pod
metadata: {name: Bad_Name}
spec:
  restartPolicy: Sometimes
  containers:
  - name: web
    ports: [{containerPort: 70000}]
    resources: {limits: {memory: 64MB}}
`)
	k.Run("apply", "-f", bad).Fails(t,
		`The Pod "Bad_Name" is invalid`,
		`metadata.name: Invalid value: "Bad_Name"`,
		`spec.restartPolicy: Unsupported value: "Sometimes"`,
		`spec.containers[0].image: Required value`,
		`spec.containers[0].ports[0].containerPort: Invalid value: 70000`,
		`spec.containers[0].resources.limits[memory]: Invalid value: "64MB"`)
	if l, err := k.C.Pods("default").List(k.Ctx(), client.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("pods after a refused apply: %v, %v", l, err)
	}
}
