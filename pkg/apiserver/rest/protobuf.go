package rest

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	k8sscheme "k8s.io/client-go/kubernetes/scheme"

	"keel.dev/keel/pkg/apierrors"
)

// protobufType is Kubernetes' protobuf media type, which client-go's typed
// clients send when configured for it (kubectl's generators: kubectl
// create configmap, secret, deployment…).
const protobufType = "application/vnd.kubernetes.protobuf"

// k8sProtobuf decodes Kubernetes' protobuf envelope into k8s.io/api's
// types.
var k8sProtobuf = protobuf.NewSerializer(k8sscheme.Scheme, k8sscheme.Scheme)

// protobufToJSON turns a protobuf body into the JSON of the same object,
// which the JSON path then decodes and checks as any other body: the
// protobuf encoding is k8s.io/api's, so its Go types are the one place
// that reads it.
func protobufToJSON(b []byte) ([]byte, error) {
	obj, gvk, err := k8sProtobuf.Decode(b, nil, nil)
	if err != nil {
		return nil, apierrors.BadRequest("the protobuf body does not decode: %v", err)
	}
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, apierrors.BadRequest("the protobuf body's %s does not encode as JSON: %v", gvk.Kind, err)
	}
	return out, nil
}
