package cmdutil

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"keel.dev/keel/pkg/api"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// PrepareObject readies a decoded manifest for the server: it checks the
// name, fills in the namespace (the request's unless the manifest names
// one; a different one given with -n is an error), and removes what the
// server owns (uid, resourceVersion, generation, timestamps, status) and
// the last-applied annotation. It returns the object and its original
// status (kept for create, where a Node's status is accepted).
func (c *CLI) PrepareObject(o manifest.Object, needName bool) (proto.Message, proto.Message, error) {
	m := proto.Clone(o.Message)
	md := scheme.Meta(m)
	if err := c.SetNamespace(o.Kind, md, needName); err != nil {
		return nil, nil, err
	}
	md.Uid, md.ResourceVersion, md.Generation = "", "", 0
	md.CreationTimestamp, md.DeletionTimestamp, md.DeletionGracePeriodSeconds = nil, nil, nil
	delete(md.Annotations, api.LastAppliedConfigAnnotation)
	if len(md.Annotations) == 0 {
		md.Annotations = nil
	}
	status := scheme.Field(m, "status")
	if status != nil {
		status = proto.Clone(status)
		ClearField(m, "status")
	}
	return m, status, nil
}

// SetNamespace checks the name of a manifest object (when needName) and
// fills in its namespace: the request's unless the manifest names one (a
// different one given with -n is an error); none for cluster-scoped kinds.
func (c *CLI) SetNamespace(k *scheme.Kind, md *metav1.ObjectMeta, needName bool) error {
	if needName && md.Name == "" {
		return errors.New("resource name may not be empty (metadata.name is required; generateName works only with create)")
	}
	if !k.Namespaced {
		md.Namespace = ""
		return nil
	}
	switch {
	case md.Namespace == "":
		md.Namespace = c.NS()
	case c.NamespaceFlagSet() && md.Namespace != c.namespace:
		return fmt.Errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.", md.Namespace, c.namespace, md.Namespace)
	}
	return nil
}

// ClearField clears a top-level field of m, if the kind has it.
func ClearField(m proto.Message, name string) {
	r := m.ProtoReflect()
	if f := r.Descriptor().Fields().ByName(protoreflect.Name(name)); f != nil {
		r.Clear(f)
	}
}

// RestoreStatus sets m's status to status (a status message or nil).
func RestoreStatus(m, status proto.Message) {
	if status == nil {
		return
	}
	r := m.ProtoReflect()
	if f := r.Descriptor().Fields().ByName("status"); f != nil {
		r.Set(f, protoreflect.ValueOfMessage(status.ProtoReflect()))
	}
}

// SetAnnotationOn sets an annotation on a message.
func SetAnnotationOn(m proto.Message, key, value string) {
	md := scheme.Meta(m)
	if md.Annotations == nil {
		md.Annotations = map[string]string{}
	}
	md.Annotations[key] = value
}
