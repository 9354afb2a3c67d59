package apiserver_test

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protopath"
	"google.golang.org/protobuf/reflect/protorange"
	"google.golang.org/protobuf/reflect/protoreflect"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
)

// plantUnknown appends an unknown field (number 9999) to each message.
func plantUnknown(msgs ...proto.Message) {
	for _, m := range msgs {
		r := m.ProtoReflect()
		u := protowire.AppendTag(r.GetUnknown(), 9999, protowire.BytesType)
		r.SetUnknown(protowire.AppendString(u, "from a newer client"))
	}
}

// unknownAt lists the paths of the messages in m that carry unknown fields.
func unknownAt(t *testing.T, m proto.Message) []string {
	t.Helper()
	var paths []string
	err := protorange.Range(m.ProtoReflect(), func(v protopath.Values) error {
		if msg, ok := v.Index(-1).Value.Interface().(protoreflect.Message); ok && len(msg.GetUnknown()) > 0 {
			paths = append(paths, v.Path.String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

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
		plantUnknown(d, d.Metadata, d.Spec, pod, pod.Containers[0], d.Status)
		return d
	}
	check := func(what string, d *appsv1.Deployment) {
		t.Helper()
		if p := unknownAt(t, d); len(p) > 0 {
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
		if p := unknownAt(t, stored); len(p) > 0 {
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
