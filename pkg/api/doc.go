// Package api holds the constants and small helpers every Keel component
// uses about API objects, under Kubernetes' names: pod phases, condition
// types and reasons, well-known labels, annotations, taints and finalizers,
// IntOrString constructors and resolution, owner-reference helpers, pod
// readiness and resource requests. It is the counterpart of k8s.io/api's
// constants plus k8s.io/kubernetes/pkg/api/v1/pod.
//
// It depends only on the generated API types and apimachinery, so every
// layer may import it. Every function is pure and safe for concurrent use;
// none modifies its arguments unless its doc comment says so.
package api
