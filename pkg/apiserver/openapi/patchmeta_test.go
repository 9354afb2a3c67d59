package openapi_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/apiserver/openapi"
)

// TestPatchMeta: strategic merge patches with Keel's messages as the
// metadata merge what Kubernetes merges (containers and env by name,
// volumes by name keeping only the patched source, labels key by key)
// and replace what it replaces (a list without a strategy, every list of
// a Scale); fields the message lacks are passed through untouched.
func TestPatchMeta(t *testing.T) {
	pod := (&corev1.Pod{}).ProtoReflect().Descriptor()
	deploy := (&appsv1.Deployment{}).ProtoReflect().Descriptor()
	for _, tc := range []struct {
		name             string
		md               protoreflect.MessageDescriptor
		cur, patch, want string
	}{
		{"containers by name", pod,
			`{"spec":{"containers":[{"name":"a","image":"x:1","env":[{"name":"A","value":"1"}]},{"name":"b","image":"y:1"}]}}`,
			`{"spec":{"containers":[{"name":"a","env":[{"name":"B","value":"2"}]}]}}`,
			`{"spec":{"containers":[{"name":"a","image":"x:1","env":[{"name":"B","value":"2"},{"name":"A","value":"1"}]},{"name":"b","image":"y:1"}]}}`},
		{"$patch delete", pod,
			`{"spec":{"containers":[{"name":"a"},{"name":"b"}]}}`,
			`{"spec":{"containers":[{"name":"a","$patch":"delete"}]}}`,
			`{"spec":{"containers":[{"name":"b"}]}}`},
		{"volumes retainKeys", pod,
			`{"spec":{"volumes":[{"name":"v","emptyDir":{}}]}}`,
			`{"spec":{"volumes":[{"name":"v","configMap":{"name":"c"},"$retainKeys":["configMap","name"]}]}}`,
			`{"spec":{"volumes":[{"name":"v","configMap":{"name":"c"}}]}}`},
		{"labels key by key, args replaced", pod,
			`{"metadata":{"labels":{"a":"1","b":"2"}},"spec":{"containers":[{"name":"a","args":["x","y"]}]}}`,
			`{"metadata":{"labels":{"a":null,"c":"3"}},"spec":{"containers":[{"name":"a","args":["z"]}]}}`,
			`{"metadata":{"labels":{"b":"2","c":"3"}},"spec":{"containers":[{"name":"a","args":["z"]}]}}`},
		{"template containers", deploy,
			`{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x:1"},{"name":"b"}]}}}}`,
			`{"spec":{"template":{"spec":{"containers":[{"name":"b","image":"y:2"}]}}}}`,
			`{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x:1"},{"name":"b","image":"y:2"}]}}}}`},
		{"unknown field passed through", pod,
			`{"spec":{"containers":[{"name":"a"}]}}`,
			`{"spec":{"bogus":[{"name":"x"}],"containers":[{"name":"a","frob":{"k":[1]}}]}}`,
			`{"spec":{"bogus":[{"name":"x"}],"containers":[{"name":"a","frob":{"k":[1]}}]}}`},
		{"scale: no strategies", nil,
			`{"spec":{"replicas":1},"status":{"replicas":1}}`,
			`{"spec":{"replicas":3}}`,
			`{"spec":{"replicas":3},"status":{"replicas":1}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := strategicpatch.StrategicMergePatchUsingLookupPatchMeta([]byte(tc.cur), []byte(tc.patch), openapi.PatchMeta(tc.md))
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %s\nwant %s", out, tc.want)
			}
		})
	}
}
