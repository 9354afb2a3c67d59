package main

import (
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
)

func TestLabelAndAnnotate(t *testing.T) {
	t.Parallel()
	k := startCluster(t)
	seed(t, k)
	ctx := k.ctx()
	labels := func() map[string]string {
		p, err := k.c.Pods("default").Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		return p.GetMetadata().GetLabels()
	}

	if out := k.run("label", "pod", "web", "tier=frontend", "env=prod").ok(t); out != "pod/web labeled\n" {
		t.Errorf("label: %q", out)
	}
	if l := labels(); l["tier"] != "frontend" || l["env"] != "prod" || l["app"] != "web" {
		t.Errorf("labels %v", l)
	}
	// Changing a value needs --overwrite; the same value does not.
	k.run("label", "pod", "web", "tier=backend").fails(t, "error: 'tier' already has a value (frontend), and --overwrite is false")
	if out := k.run("label", "pod", "web", "tier=frontend").ok(t); out != "pod/web not labeled\n" {
		t.Errorf("same value: %q", out)
	}
	k.run("label", "pod/web", "tier=backend", "--overwrite").ok(t)
	if l := labels(); l["tier"] != "backend" {
		t.Errorf("overwrite: %v", l)
	}
	if out := k.run("label", "pod", "web", "tier-", "env-").ok(t); out != "pod/web unlabeled\n" {
		t.Errorf("remove: %q", out)
	}
	if l := labels(); len(l) != 1 {
		t.Errorf("after removal: %v", l)
	}
	r := k.run("label", "pod", "web", "nothere-")
	if r.ok(t); r.err != "label \"nothere\" not found.\n" {
		t.Errorf("removing a missing label: %+v", r)
	}
	k.run("label", "pod", "web", "bad key=x").fails(t, "invalid label spec")
	k.run("label", "pod", "web", "k=bad value").fails(t, "invalid label value")
	k.run("label", "pod", "web").fails(t, "at least one label update is required")
	k.run("label", "pod", "nope", "a=b").fails(t, `Error from server (NotFound): pods "nope" not found`)
	// Several objects: by selector, --all.
	if out := k.run("label", "pods", "--all", "audited=yes").ok(t); out != "pod/crash labeled\npod/new labeled\npod/web labeled\n" {
		t.Errorf("label --all: %q", out)
	}
	if out := k.run("label", "pods", "-l", "app=web", "--list").ok(t); out != "app=web\naudited=yes\n" {
		t.Errorf("--list: %q", out)
	}

	if out := k.run("annotate", "svc", "web", "description=the web front end").ok(t); out != "service/web annotated\n" {
		t.Errorf("annotate: %q", out)
	}
	k.run("annotate", "svc", "web", "description=other").fails(t, "'description' already has a value (the web front end), and --overwrite is false")
	k.run("annotate", "svc", "web", "description=other", "--overwrite").ok(t)
	s, err := k.c.Services("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if s.GetMetadata().GetAnnotations()["description"] != "other" {
		t.Errorf("annotations %v", s.GetMetadata().GetAnnotations())
	}
	k.run("annotate", "svc", "web", "description-").ok(t)
	if s, _ = k.c.Services("default").Get(ctx, "web"); len(s.GetMetadata().GetAnnotations()) != 0 {
		t.Errorf("annotations after removal %v", s.GetMetadata().GetAnnotations())
	}
}

func TestScale(t *testing.T) {
	t.Parallel()
	k := startCluster(t)
	ctx := k.ctx()
	dir := t.TempDir()
	k.run("apply", "-f", write(t, dir, "web.yaml", webDeployment)).ok(t)
	k.run("apply", "-f", "../../manifests/examples/frontend.yaml", "-f", "../../manifests/examples/job.yaml").ok(t)

	if out := k.run("scale", "deployment", "web", "--replicas=5").ok(t); out != "deployment.apps/web scaled\n" {
		t.Errorf("scale: %q", out)
	}
	d, err := k.c.Deployments("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if d.GetSpec().GetReplicas() != 5 {
		t.Errorf("replicas %d", d.GetSpec().GetReplicas())
	}
	k.run("scale", "deploy/web", "--replicas=1", "--current-replicas=3").fails(t, "Expected replicas to be 3, was 5")
	k.run("scale", "deploy/web", "--replicas=1", "--current-replicas=5").ok(t)
	k.run("scale", "rs", "frontend", "--replicas=0").ok(t)
	rs, err := k.c.ReplicaSets("default").Get(ctx, "frontend")
	if err != nil {
		t.Fatal(err)
	}
	if rs.GetSpec().GetReplicas() != 0 || rs.GetSpec().Replicas == nil {
		t.Errorf("replica set replicas %v", rs.GetSpec().Replicas)
	}
	if out := k.run("scale", "job/pi", "--replicas=3").ok(t); out != "job.batch/pi scaled\n" {
		t.Errorf("scale job: %q", out)
	}
	j, err := k.c.Jobs("default").Get(ctx, "pi")
	if err != nil {
		t.Fatal(err)
	}
	if j.GetSpec().GetParallelism() != 3 {
		t.Errorf("job parallelism %d", j.GetSpec().GetParallelism())
	}
	cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "c", Namespace: "default"}}
	if _, err := k.c.ConfigMaps("default").Create(ctx, cm, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.run("scale", "cm", "c", "--replicas=2").fails(t, `configmaps "c" cannot be scaled`)
	k.run("scale", "deploy", "web").fails(t, "the --replicas=COUNT flag is required")
	k.run("scale", "deploy", "nope", "--replicas=2").fails(t, `Error from server (NotFound): deployments.apps "nope" not found`)
	k.run("scale", "deploy", "web", "--replicas=-1").fails(t, "COUNT must be greater than or equal to 0")
}
