// Package kubeletv1 is the API between the apiserver and the kubelets: the
// gRPC service keel.kubelet.v1.Kubelet (Logs and Exec), generated from
// proto/keel/kubelet/v1/kubelet.proto. The kubelet registers a
// KubeletServer; the apiserver calls it with a KubeletClient.
package kubeletv1

// DefaultPort is the kubelet's port when the Node does not say.
const DefaultPort = 10250

// MaxMessageSize bounds the messages of the service on both sides: an Exec
// response carries the command's whole output.
const MaxMessageSize = 64 << 20
