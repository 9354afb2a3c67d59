package rest

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	k8sscheme "k8s.io/client-go/kubernetes/scheme"

	"keel.dev/keel/pkg/apierrors"
)

// protobufType is Kubernetes' protobuf media type. kubectl's typed
// commands (create serviceaccount|configmap|…, auth can-i, rollout undo),
// client-go clientsets configured with it and controller-runtime (for the
// built-in kinds) send their bodies in it.
const protobufType = "application/vnd.kubernetes.protobuf"

// protobufDecoder decodes Kubernetes' protobuf envelope (the magic
// "k8s\x00", then a runtime.Unknown naming the apiVersion and kind, whose
// raw bytes are the k8s.io/api type's protobuf) for every built-in kind
// and the meta/v1 options of every group version.
var protobufDecoder = protobuf.NewSerializer(k8sscheme.Scheme, k8sscheme.Scheme)

// protobufToJSON turns a body in Kubernetes' protobuf encoding into the
// JSON of the same object (apiVersion and kind set), which the handler
// then decodes as it decodes any JSON body. A body that is not Kubernetes
// protobuf is 400; one of a kind that has no protobuf form here (not a
// built-in kind of k8s.io/api) is 415.
func protobufToJSON(body []byte) ([]byte, error) {
	obj, gvk, err := protobufDecoder.Decode(body, nil, nil)
	if runtime.IsNotRegisteredError(err) {
		return nil, apierrors.UnsupportedMediaType("the body of the request was in an unknown format - %v; send it as application/json", err)
	}
	if err != nil {
		return nil, apierrors.BadRequest("the body of the request is not a valid %s object: %v", protobufType, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, apierrors.Internal("encoding the %s body as JSON: %v", gvk.Kind, err)
	}
	return b, nil
}
