package rollout_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/manifest"
)

// webTemplate is the pod template of the rollout tests' deployment.
func webTemplate(image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Image: image}}},
	}
}

// createDeployment creates a deployment of 3 replicas running image.
func createDeployment(t *testing.T, k *keelctltest.Cluster, name, image string) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &appsv1.DeploymentSpec{
			Replicas: proto.Int32(3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: webTemplate(image),
		},
	}
	d, err := k.C.Deployments("default").Create(k.Ctx(), d, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// createRevision creates a ReplicaSet as the deployment controller would
// for one revision of a deployment: named NAME-HASH, its template labeled
// with the hash, annotated with the revision (and the change cause, if
// any), owned through owner.
func createRevision(t *testing.T, k *keelctltest.Cluster, name, hash string, rev int, image, cause string, owner *metav1.OwnerReference) *appsv1.ReplicaSet {
	t.Helper()
	tmpl := webTemplate(image)
	tmpl.Metadata.Labels[api.DeploymentHashLabel] = hash
	ann := map[string]string{api.DeploymentRevisionAnnotation: strconv.Itoa(rev)}
	if cause != "" {
		ann[api.ChangeCauseAnnotation] = cause
	}
	rs := &appsv1.ReplicaSet{
		Metadata: &metav1.ObjectMeta{Name: name + "-" + hash, Namespace: "default", Annotations: ann,
			OwnerReferences: []*metav1.OwnerReference{owner}},
		Spec: &appsv1.ReplicaSetSpec{
			Replicas: proto.Int32(0),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", api.DeploymentHashLabel: hash}},
			Template: tmpl,
		},
	}
	rs, err := k.C.ReplicaSets("default").Create(k.Ctx(), rs, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func ownerRef(d *appsv1.Deployment, controller bool) *metav1.OwnerReference {
	return &metav1.OwnerReference{ApiVersion: "apps/v1", Kind: "Deployment", Name: d.GetMetadata().GetName(),
		Uid: d.GetMetadata().GetUid(), Controller: proto.Bool(controller)}
}

// rolloutHistory creates the deployment "web" at nginx:3 with revisions 1
// (nginx:1, with a change cause), 2 (nginx:2) and 3 (nginx:3, the current
// one), and ReplicaSets that are not its revisions: one another
// deployment controls, one web owns without controlling it. It returns the
// deployment and its revisions by number.
func rolloutHistory(t *testing.T, k *keelctltest.Cluster) (*appsv1.Deployment, map[int]*appsv1.ReplicaSet) {
	t.Helper()
	d := createDeployment(t, k, "web", "nginx:3")
	revs := map[int]*appsv1.ReplicaSet{
		1: createRevision(t, k, "web", "b1", 1, "nginx:1", "keelctl set image nginx:1", ownerRef(d, true)),
		2: createRevision(t, k, "web", "c2", 2, "nginx:2", "", ownerRef(d, true)),
		3: createRevision(t, k, "web", "d3", 3, "nginx:3", "", ownerRef(d, true)),
	}
	other := ownerRef(d, true)
	other.Name, other.Uid = "api", "0b5c1bd8-5a0e-4a8b-9d83-2f8e2b8c9e01"
	createRevision(t, k, "api", "x4", 4, "nginx:4", "", other)
	createRevision(t, k, "web", "y5", 5, "nginx:5", "", ownerRef(d, false))
	return d, revs
}

func getDeployment(t *testing.T, k *keelctltest.Cluster, name string) *appsv1.Deployment {
	t.Helper()
	d, err := k.C.Deployments("default").Get(k.Ctx(), name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRolloutHistory(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	_, revs := rolloutHistory(t, k)
	createDeployment(t, k, "empty", "nginx:1")

	out := k.Run("rollout", "history", "deployment/web").OK(t)
	want := []string{"deployment.apps/web", "REVISION CHANGE-CAUSE", "1 keelctl set image nginx:1", "2 <none>", "3 <none>"}
	if got := keelctltest.Lines(out); strings.Join(got, "\n") != strings.Join(want, "\n") || !strings.HasSuffix(out, "<none>\n\n") {
		t.Errorf("history:\n%s", out)
	}
	for _, args := range [][]string{{"deployment", "web"}, {"deploy/web"}, {"deployments.apps", "web"}} {
		if again := k.Run(append([]string{"rollout", "history"}, args...)...).OK(t); again != out {
			t.Errorf("history %v:\n%s", args, again)
		}
	}
	if out := k.Run("rollout", "history", "deploy/empty").OK(t); out != "deployment.apps/empty\nNo rollout history found.\n" {
		t.Errorf("no history: %q", out)
	}

	// --revision prints that revision's pod template as YAML.
	out = k.Run("rollout", "history", "deployment/web", "--revision=2").OK(t)
	head := "deployment.apps/web with revision #2\nPod Template:\n"
	if !strings.HasPrefix(out, head) {
		t.Fatalf("--revision:\n%s", out)
	}
	var yamlText strings.Builder
	for _, l := range strings.SplitAfter(strings.TrimPrefix(out, head), "\n") {
		if l != "" && !strings.HasPrefix(l, "  ") {
			t.Errorf("line not indented: %q", l)
		}
		yamlText.WriteString(strings.TrimPrefix(l, "  "))
	}
	var got corev1.PodTemplateSpec
	if err := manifest.DecodeInto([]byte(yamlText.String()), &got); err != nil {
		t.Fatalf("decoding the printed template: %v\n%s", err, out)
	}
	if !proto.Equal(&got, revs[2].GetSpec().GetTemplate()) {
		t.Errorf("printed template %v, want %v", &got, revs[2].GetSpec().GetTemplate())
	}

	k.Run("rollout", "history", "deployment/web", "--revision=4").Fails(t, "unable to find the specified revision 4 of deployment.apps/web")
	k.Run("rollout", "history", "deployment/web", "--revision=-1").Fails(t, "revision must be a positive integer")
	k.Run("rollout", "history", "deployment/nope").Fails(t, `Error from server (NotFound): deployments.apps "nope" not found`)
	k.Run("rollout", "history", "pod/web").Fails(t, "pods cannot be rolled out (keelctl rollout supports deployments, daemonsets and statefulsets)")
	k.Run("rollout", "history", "deployment").Fails(t, "no name was specified")
	k.Run("rollout", "history").Fails(t, "required resource not specified")
}

func TestRolloutUndo(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	_, revs := rolloutHistory(t, k)
	createDeployment(t, k, "empty", "nginx:1")
	wantTemplate := func(rev int) {
		t.Helper()
		d := getDeployment(t, k, "web")
		want := proto.Clone(revs[rev].GetSpec().GetTemplate()).(*corev1.PodTemplateSpec)
		delete(want.Metadata.Labels, api.DeploymentHashLabel)
		if !proto.Equal(d.GetSpec().GetTemplate(), want) {
			t.Errorf("template %v, want revision %d's %v", d.GetSpec().GetTemplate(), rev, want)
		}
		if _, ok := d.GetSpec().GetTemplate().GetMetadata().GetLabels()[api.DeploymentHashLabel]; ok {
			t.Errorf("the %s label was copied: %v", api.DeploymentHashLabel, d.GetSpec().GetTemplate().GetMetadata().GetLabels())
		}
	}

	// The previous revision: the highest below the current highest (3).
	gen := getDeployment(t, k, "web").GetMetadata().GetGeneration()
	if out := k.Run("rollout", "undo", "deployment/web").OK(t); out != "deployment.apps/web rolled back\n" {
		t.Errorf("undo: %q", out)
	}
	wantTemplate(2)
	if g := getDeployment(t, k, "web").GetMetadata().GetGeneration(); g <= gen {
		t.Errorf("generation %d after undo, was %d", g, gen)
	}
	// No controller runs: the revisions stay, and the previous one is
	// still 2, which the deployment already has.
	if out := k.Run("rollout", "undo", "deploy", "web").OK(t); out != "deployment.apps/web skipped rollback (current template already matches revision 2)\n" {
		t.Errorf("undo again: %q", out)
	}
	if out := k.Run("rollout", "undo", "deploy/web", "--to-revision=1").OK(t); out != "deployment.apps/web rolled back\n" {
		t.Errorf("undo --to-revision=1: %q", out)
	}
	wantTemplate(1)

	// Nothing changes on errors or dry runs.
	k.Run("rollout", "undo", "deploy/web", "--to-revision=4").Fails(t, "unable to find specified revision 4 in history")
	k.Run("rollout", "undo", "deploy/web", "--to-revision=7").Fails(t, "unable to find specified revision 7 in history")
	if out := k.Run("rollout", "undo", "deploy/web", "--to-revision=3", "--dry-run=server").OK(t); out != "deployment.apps/web rolled back (server dry run)\n" {
		t.Errorf("server dry run: %q", out)
	}
	if out := k.Run("rollout", "undo", "deploy/web", "--to-revision=3", "--dry-run").OK(t); out != "deployment.apps/web rolled back (dry run)\n" {
		t.Errorf("client dry run: %q", out)
	}
	wantTemplate(1)
	k.Run("rollout", "undo", "deploy/empty").Fails(t, `no rollout history found for deployment "empty"`)
	k.Run("rollout", "undo", "deploy/nope").Fails(t, `Error from server (NotFound): deployments.apps "nope" not found`)

	// A paused deployment is not rolled back.
	k.Run("rollout", "pause", "deploy/web").OK(t)
	k.Run("rollout", "undo", "deploy/web").Fails(t, "you cannot rollback a paused deployment; resume it first")
	wantTemplate(1)
	k.Run("rollout", "resume", "deploy/web").OK(t)
	k.Run("rollout", "undo", "deploy/web", "--to-revision=3").OK(t)
	wantTemplate(3)
}

func TestRolloutRestart(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	createDeployment(t, k, "web", "nginx:1")
	before := time.Now().Add(-time.Second)
	if out := k.Run("rollout", "restart", "deployment/web").OK(t); out != "deployment.apps/web restarted\n" {
		t.Errorf("restart: %q", out)
	}
	d := getDeployment(t, k, "web")
	v := d.GetSpec().GetTemplate().GetMetadata().GetAnnotations()[api.RestartedAtAnnotation]
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		t.Fatalf("%s = %q: %v", api.RestartedAtAnnotation, v, err)
	}
	if at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("%s = %s, not now", api.RestartedAtAnnotation, v)
	}
	if d.GetMetadata().GetGeneration() < 2 {
		t.Errorf("generation %d: the template did not change", d.GetMetadata().GetGeneration())
	}
	if img := d.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage(); img != "nginx:1" {
		t.Errorf("image %q", img)
	}

	if out := k.Run("rollout", "restart", "deploy", "web", "--dry-run").OK(t); out != "deployment.apps/web restarted (dry run)\n" {
		t.Errorf("dry run: %q", out)
	}
	k.Run("rollout", "pause", "deploy/web").OK(t)
	k.Run("rollout", "restart", "deploy/web").Fails(t, `can't restart paused deployment "web" (run rollout resume first)`)
	d = getDeployment(t, k, "web")
	if d.GetSpec().GetTemplate().GetMetadata().GetAnnotations()[api.RestartedAtAnnotation] != v {
		t.Errorf("annotation changed by a dry run or a paused restart: %v", d.GetSpec().GetTemplate().GetMetadata().GetAnnotations())
	}
	if !d.GetSpec().GetPaused() {
		t.Errorf("pause did not apply")
	}
	k.Run("rollout", "restart", "deploy/nope").Fails(t, `Error from server (NotFound): deployments.apps "nope" not found`)
}

func TestRolloutPauseResume(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	createDeployment(t, k, "web", "nginx:1")
	createDeployment(t, k, "api", "nginx:1")
	paused := func(name string) bool { return getDeployment(t, k, name).GetSpec().GetPaused() }

	if out := k.Run("rollout", "pause", "deployment/web", "--dry-run").OK(t); out != "deployment.apps/web paused (dry run)\n" {
		t.Errorf("dry run: %q", out)
	}
	if paused("web") {
		t.Fatal("paused by a dry run")
	}
	if out := k.Run("rollout", "pause", "deployment/web").OK(t); out != "deployment.apps/web paused\n" {
		t.Errorf("pause: %q", out)
	}
	if !paused("web") || paused("api") {
		t.Errorf("paused: web %v, api %v", paused("web"), paused("api"))
	}
	if out := k.Run("rollout", "pause", "deployment", "web", "api").OK(t); out != "deployment.apps/web already paused\ndeployment.apps/api paused\n" {
		t.Errorf("pause again: %q", out)
	}
	if !paused("api") {
		t.Error("api not paused")
	}
	if out := k.Run("rollout", "resume", "deploy/web").OK(t); out != "deployment.apps/web resumed\n" {
		t.Errorf("resume: %q", out)
	}
	if paused("web") || !paused("api") {
		t.Errorf("after resume: web %v, api %v", paused("web"), paused("api"))
	}
	if out := k.Run("rollout", "resume", "deploy/web").OK(t); out != "deployment.apps/web not paused\n" {
		t.Errorf("resume again: %q", out)
	}
	k.Run("rollout", "pause", "deploy/nope").Fails(t, `Error from server (NotFound): deployments.apps "nope" not found`)
	k.Run("rollout", "resume", "rs/web").Fails(t, "replicasets cannot be rolled out")
}

// setDeploymentStatus sets the status of the deployment "web" as its
// controller would, having observed its current generation.
func setDeploymentStatus(t *testing.T, k *keelctltest.Cluster, st *appsv1.DeploymentStatus) {
	t.Helper()
	ctx := k.Ctx()
	err := client.RetryOnConflict(client.DefaultRetry, func() error {
		d, err := k.C.Deployments("default").Get(ctx, "web")
		if err != nil {
			return err
		}
		d.Status = proto.Clone(st).(*appsv1.DeploymentStatus)
		d.Status.ObservedGeneration = d.GetMetadata().GetGeneration()
		_, err = k.C.Deployments("default").UpdateStatus(ctx, d, client.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRolloutStatus(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	createDeployment(t, k, "web", "nginx:2")

	// Nothing observed yet.
	if out := k.Run("rollout", "status", "deployment/web", "--watch=false").OK(t); out != "Waiting for deployment spec update to be observed...\n" {
		t.Errorf("unobserved: %q", out)
	}
	r := k.Run("rollout", "status", "deployment/web", "--timeout=200ms")
	r.Fails(t, `error: timed out waiting for deployment "web" rollout to finish`)
	if r.Out != "Waiting for deployment spec update to be observed...\n" {
		t.Errorf("timed out run printed %q", r.Out)
	}

	// Following a rollout: each state once, until it is complete.
	setDeploymentStatus(t, k, &appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3})
	if out := k.Run("rollout", "status", "deploy", "web", "--watch=false").OK(t); out != "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...\n" {
		t.Errorf("--watch=false: %q", out)
	}
	var out keelctltest.SyncBuffer
	done := k.StartRun(&out, "rollout", "status", "deployment/web")
	steps := []struct {
		line   string
		status *appsv1.DeploymentStatus // set once line was printed
	}{
		{`Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...`,
			&appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 3, ReadyReplicas: 4, AvailableReplicas: 3}},
		{`Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...`,
			&appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 1}},
		{`Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...`,
			&appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3}},
	}
	var want strings.Builder
	for _, s := range steps {
		want.WriteString(s.line + "\n")
		keelctltest.Eventually(t, 10*time.Second, func() bool { return strings.HasSuffix(out.String(), s.line+"\n") }, "no line %q:\n%s", s.line, &out)
		setDeploymentStatus(t, k, s.status)
	}
	want.WriteString("deployment \"web\" successfully rolled out\n")
	if got := keelctltest.WaitResult(t, done).OK(t); got != want.String() {
		t.Errorf("status output:\n%s\nwant:\n%s", got, want.String())
	}
	if out := k.Run("rollout", "status", "deploy/web").OK(t); out != "deployment \"web\" successfully rolled out\n" {
		t.Errorf("complete: %q", out)
	}

	// A new generation is not complete until observed.
	k.Run("scale", "deploy/web", "--replicas=4").OK(t)
	if out := k.Run("rollout", "status", "deploy/web", "-w=false").OK(t); out != "Waiting for deployment spec update to be observed...\n" {
		t.Errorf("after scaling: %q", out)
	}

	// A rollout past its progress deadline fails, while watching too.
	var out2 keelctltest.SyncBuffer
	done = k.StartRun(&out2, "rollout", "status", "deployment/web")
	keelctltest.Eventually(t, 10*time.Second, func() bool { return out2.String() != "" }, "status printed nothing")
	setDeploymentStatus(t, k, &appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 3,
		Conditions: []*appsv1.DeploymentCondition{{Type: "Available", Status: "True", Reason: "MinimumReplicasAvailable"},
			{Type: "Progressing", Status: "False", Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-b1" has timed out progressing.`}}})
	keelctltest.WaitResult(t, done).Fails(t, `error: deployment "web" exceeded its progress deadline`)
	k.Run("rollout", "status", "deploy/web", "--watch=false").Fails(t, `deployment "web" exceeded its progress deadline`)

	// A deployment deleted while watched.
	setDeploymentStatus(t, k, &appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 3})
	var out3 keelctltest.SyncBuffer
	done = k.StartRun(&out3, "rollout", "status", "deployment/web")
	keelctltest.Eventually(t, 10*time.Second, func() bool { return out3.String() != "" }, "status printed nothing")
	if _, _, err := k.C.Deployments("default").Delete(k.Ctx(), "web", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	keelctltest.WaitResult(t, done).Fails(t, `deployment "web" was deleted`)

	k.Run("rollout", "status", "deployment/nope").Fails(t, `Error from server (NotFound): deployments.apps "nope" not found`)
	k.Run("rollout", "status", "deployment", "a", "b").Fails(t, "rollout status is only supported on individual resources - 2 resources were found")
	k.Run("rollout", "status", "svc/web").Fails(t, "services cannot be rolled out")
	k.Run("rollout", "status", "deploy/web", "--timeout=-1s").Fails(t, "--timeout must not be negative")
}
