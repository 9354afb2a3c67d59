package apiserver

import (
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheme"
)

// FuzzSelectors feeds a list request's label and field selector strings,
// and a stored object's encoding, to what the apiserver does with them:
// predicate (apimachinery's parsers plus the check that each field label is
// one the kind is indexed by) and the watch cache's decode of the object
// (scanObject reads the labels and selectable fields straight from the
// encoding). Neither may panic; a bad selector is a BadRequest; a parsed
// field selector names only indexed fields; and when the object also
// decodes as a whole message, what scanObject read must equal it.
func FuzzSelectors(f *testing.F) {
	pod, err := proto.Marshal(&corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: "web-0", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec:     &corev1.PodSpec{NodeName: "node-1", RestartPolicy: "Always"},
		Status:   &corev1.PodStatus{Phase: "Running", PodIp: "10.0.0.5"},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Pod", "app=web,tier in (fe,be)", "spec.nodeName=node-1,status.phase!=Failed", pod)
	f.Add("Node", "!node-role.kubernetes.io/control-plane", "spec.unschedulable==false", []byte{})
	kinds := scheme.All()
	resources := make(map[string]*resource, len(kinds))
	for _, k := range kinds {
		resources[k.Kind] = newResource(k)
	}
	f.Fuzz(func(t *testing.T, kind, labelSel, fieldSel string, object []byte) {
		r := resources[kind]
		if r == nil {
			r = resources[kinds[len(kind)%len(kinds)].Kind]
		}
		p, err := r.predicate("default", labelSel, fieldSel)
		if err != nil {
			if apierrors.ReasonOf(err) != apierrors.ReasonBadRequest {
				t.Fatalf("predicate(%q, %q): %v is not a BadRequest", labelSel, fieldSel, err)
			}
			return
		}
		if p.Field != nil {
			for _, req := range p.Field.Requirements() {
				if !r.fieldNames.Has(req.Field) {
					t.Fatalf("field selector %q accepted with unindexed field %q", fieldSel, req.Field)
				}
			}
		}
		e, err := r.decode("/keel/x", object, 7)
		if err != nil {
			return
		}
		p.Matches(e)
		obj := r.kind.New()
		if proto.Unmarshal(object, obj) != nil {
			return
		}
		if meta := scheme.Meta(obj); meta.GetName() != e.Name || meta.GetNamespace() != e.Namespace || len(meta.GetLabels()) != len(e.Labels) {
			t.Fatalf("scanObject read name %q namespace %q labels %v; the message has %q %q %v",
				e.Name, e.Namespace, e.Labels, meta.GetName(), meta.GetNamespace(), meta.GetLabels())
		}
		for _, s := range r.selectable {
			if got, want := e.Fields[s.label], valueAt(obj.ProtoReflect(), s.path); got != want {
				t.Fatalf("%s: scanObject read %q, the message has %q", s.label, got, want)
			}
		}
	})
}

// valueAt is the field selector value at path in m, read from the decoded
// message: a string, or a bool as "true"/"false".
func valueAt(m protoreflect.Message, path []protoreflect.FieldDescriptor) string {
	for _, fd := range path[:len(path)-1] {
		m = m.Get(fd).Message()
	}
	v := m.Get(path[len(path)-1])
	if b, ok := v.Interface().(bool); ok {
		return strconv.FormatBool(b)
	}
	return v.String()
}
