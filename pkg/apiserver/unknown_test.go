package apiserver_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	"keel.dev/keel/pkg/testutil"
)

// TestUnknownFieldsAreDropped: fields the schema does not know, at any
// level of an object a client sends, are neither stored nor served back, on
// create, update and status update.
func TestUnknownFieldsAreDropped(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	withUnknown := func(d *appsv1.Deployment) *appsv1.Deployment {
		d = proto.Clone(d).(*appsv1.Deployment)
		if d.Status == nil {
			d.Status = &appsv1.DeploymentStatus{}
		}
		pod := d.Spec.Template.Spec
		testutil.PlantUnknown(d, d.Metadata, d.Spec, pod, pod.Containers[0], d.Status)
		return d
	}
	check := func(what string, d *appsv1.Deployment) {
		t.Helper()
		if p := testutil.UnknownFields(d); len(p) > 0 {
			t.Errorf("%s: unknown fields served back at %v", what, p)
		}
		resp, err := c.etcd.Get(c.ctx, "/keel/deployments/default/web")
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("%s: reading etcd: %v %v", what, resp, err)
		}
		stored := &appsv1.Deployment{}
		if err := proto.Unmarshal(resp.Kvs[0].Value, stored); err != nil {
			t.Fatal(err)
		}
		if p := testutil.UnknownFields(stored); len(p) > 0 {
			t.Errorf("%s: unknown fields stored at %v", what, p)
		}
	}

	created := mustCreate(c, withUnknown(fromYAML[*appsv1.Deployment](t, deploymentYAML)))
	check("create", created)
	check("get", mustGet[*appsv1.Deployment](c, "default", "web"))

	updated, err := update(c, withUnknown(created))
	if err != nil {
		t.Fatal(err)
	}
	check("update", updated)

	updated, err = updateStatus(c, withUnknown(updated))
	if err != nil {
		t.Fatal(err)
	}
	check("status update", updated)
}
