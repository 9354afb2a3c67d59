package label_test

import (
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
)

func TestLabelAndAnnotate(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	keelctltest.Seed(t, k)
	ctx := k.Ctx()
	labels := func() map[string]string {
		p, err := k.C.Pods("default").Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		return p.GetMetadata().GetLabels()
	}

	if out := k.Run("label", "pod", "web", "tier=frontend", "env=prod").OK(t); out != "pod/web labeled\n" {
		t.Errorf("label: %q", out)
	}
	if l := labels(); l["tier"] != "frontend" || l["env"] != "prod" || l["app"] != "web" {
		t.Errorf("labels %v", l)
	}
	// Changing a value needs --overwrite; the same value does not.
	k.Run("label", "pod", "web", "tier=backend").Fails(t, "error: 'tier' already has a value (frontend), and --overwrite is false")
	if out := k.Run("label", "pod", "web", "tier=frontend").OK(t); out != "pod/web not labeled\n" {
		t.Errorf("same value: %q", out)
	}
	k.Run("label", "pod/web", "tier=backend", "--overwrite").OK(t)
	if l := labels(); l["tier"] != "backend" {
		t.Errorf("overwrite: %v", l)
	}
	if out := k.Run("label", "pod", "web", "tier-", "env-").OK(t); out != "pod/web unlabeled\n" {
		t.Errorf("remove: %q", out)
	}
	if l := labels(); len(l) != 1 {
		t.Errorf("after removal: %v", l)
	}
	r := k.Run("label", "pod", "web", "nothere-")
	if r.OK(t); r.Err != "label \"nothere\" not found.\n" {
		t.Errorf("removing a missing label: %+v", r)
	}
	k.Run("label", "pod", "web", "bad key=x").Fails(t, "invalid label spec")
	k.Run("label", "pod", "web", "k=bad value").Fails(t, "invalid label value")
	k.Run("label", "pod", "web").Fails(t, "at least one label update is required")
	k.Run("label", "pod", "nope", "a=b").Fails(t, `Error from server (NotFound): pods "nope" not found`)
	// Several objects: by selector, --all.
	if out := k.Run("label", "pods", "--all", "audited=yes").OK(t); out != "pod/crash labeled\npod/new labeled\npod/web labeled\n" {
		t.Errorf("label --all: %q", out)
	}
	if out := k.Run("label", "pods", "-l", "app=web", "--list").OK(t); out != "app=web\naudited=yes\n" {
		t.Errorf("--list: %q", out)
	}

	if out := k.Run("annotate", "svc", "web", "description=the web front end").OK(t); out != "service/web annotated\n" {
		t.Errorf("annotate: %q", out)
	}
	k.Run("annotate", "svc", "web", "description=other").Fails(t, "'description' already has a value (the web front end), and --overwrite is false")
	k.Run("annotate", "svc", "web", "description=other", "--overwrite").OK(t)
	s, err := k.C.Services("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if s.GetMetadata().GetAnnotations()["description"] != "other" {
		t.Errorf("annotations %v", s.GetMetadata().GetAnnotations())
	}
	k.Run("annotate", "svc", "web", "description-").OK(t)
	if s, _ = k.C.Services("default").Get(ctx, "web"); len(s.GetMetadata().GetAnnotations()) != 0 {
		t.Errorf("annotations after removal %v", s.GetMetadata().GetAnnotations())
	}
}

func TestScale(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	ctx := k.Ctx()
	dir := t.TempDir()
	k.Run("apply", "-f", keelctltest.Write(t, dir, "web.yaml", keelctltest.WebDeployment)).OK(t)
	k.Run("apply", "-f", "../../../manifests/examples/frontend.yaml", "-f", "../../../manifests/examples/job.yaml").OK(t)

	if out := k.Run("scale", "deployment", "web", "--replicas=5").OK(t); out != "deployment.apps/web scaled\n" {
		t.Errorf("scale: %q", out)
	}
	d, err := k.C.Deployments("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if d.GetSpec().GetReplicas() != 5 {
		t.Errorf("replicas %d", d.GetSpec().GetReplicas())
	}
	k.Run("scale", "deploy/web", "--replicas=1", "--current-replicas=3").Fails(t, "Expected replicas to be 3, was 5")
	k.Run("scale", "deploy/web", "--replicas=1", "--current-replicas=5").OK(t)
	k.Run("scale", "rs", "frontend", "--replicas=0").OK(t)
	rs, err := k.C.ReplicaSets("default").Get(ctx, "frontend")
	if err != nil {
		t.Fatal(err)
	}
	if rs.GetSpec().GetReplicas() != 0 || rs.GetSpec().Replicas == nil {
		t.Errorf("replica set replicas %v", rs.GetSpec().Replicas)
	}
	if out := k.Run("scale", "job/pi", "--replicas=3").OK(t); out != "job.batch/pi scaled\n" {
		t.Errorf("scale job: %q", out)
	}
	j, err := k.C.Jobs("default").Get(ctx, "pi")
	if err != nil {
		t.Fatal(err)
	}
	if j.GetSpec().GetParallelism() != 3 {
		t.Errorf("job parallelism %d", j.GetSpec().GetParallelism())
	}
	cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "c", Namespace: "default"}}
	if _, err := k.C.ConfigMaps("default").Create(ctx, cm, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.Run("scale", "cm", "c", "--replicas=2").Fails(t, `configmaps "c" cannot be scaled`)
	k.Run("scale", "deploy", "web").Fails(t, "the --replicas=COUNT flag is required")
	k.Run("scale", "deploy", "nope", "--replicas=2").Fails(t, `Error from server (NotFound): deployments.apps "nope" not found`)
	k.Run("scale", "deploy", "web", "--replicas=-1").Fails(t, "COUNT must be greater than or equal to 0")
}
