package client

import (
	"context"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
)

// PodClient is the typed client of pods, with the binding subresource.
type PodClient struct {
	*Resource[*corev1.Pod]
}

// Bind assigns the named unbound pod to nodeName (the scheduler's
// pods/binding). uid, when not empty, must be the pod's uid. It returns the
// bound pod; apierrors.IsConflict if the pod is already bound, being
// deleted, or has another uid.
func (p PodClient) Bind(ctx context.Context, name, nodeName, uid string) (*corev1.Pod, error) {
	if err := p.needName(name); err != nil {
		return nil, err
	}
	a, err := p.api.Bind(ctx, &apiv1.BindRequest{Namespace: p.namespace, Name: name, NodeName: nodeName, Uid: uid})
	if err != nil {
		return nil, apierrors.FromStatus(err)
	}
	return p.decode(a)
}

// InNamespace returns the pod client of another namespace.
func (p PodClient) InNamespace(namespace string) PodClient {
	return PodClient{p.Resource.InNamespace(namespace)}
}

// Pods returns the pod client of namespace ("" for every namespace in List
// and Watch).
func (c *Client) Pods(namespace string) PodClient {
	return PodClient{For[*corev1.Pod](c, namespace)}
}

// Nodes returns the node client (cluster-scoped).
func (c *Client) Nodes() *Resource[*corev1.Node] { return For[*corev1.Node](c, "") }

// Namespaces returns the namespace client (cluster-scoped).
func (c *Client) Namespaces() *Resource[*corev1.Namespace] { return For[*corev1.Namespace](c, "") }

// Services returns the service client of namespace.
func (c *Client) Services(namespace string) *Resource[*corev1.Service] {
	return For[*corev1.Service](c, namespace)
}

// Endpoints returns the endpoints client of namespace.
func (c *Client) Endpoints(namespace string) *Resource[*corev1.Endpoints] {
	return For[*corev1.Endpoints](c, namespace)
}

// ConfigMaps returns the config map client of namespace.
func (c *Client) ConfigMaps(namespace string) *Resource[*corev1.ConfigMap] {
	return For[*corev1.ConfigMap](c, namespace)
}

// Secrets returns the secret client of namespace.
func (c *Client) Secrets(namespace string) *Resource[*corev1.Secret] {
	return For[*corev1.Secret](c, namespace)
}

// Events returns the event client of namespace.
func (c *Client) Events(namespace string) *Resource[*corev1.Event] {
	return For[*corev1.Event](c, namespace)
}

// ReplicaSets returns the replica set client of namespace.
func (c *Client) ReplicaSets(namespace string) *Resource[*appsv1.ReplicaSet] {
	return For[*appsv1.ReplicaSet](c, namespace)
}

// Deployments returns the deployment client of namespace.
func (c *Client) Deployments(namespace string) *Resource[*appsv1.Deployment] {
	return For[*appsv1.Deployment](c, namespace)
}

// Jobs returns the job client of namespace.
func (c *Client) Jobs(namespace string) *Resource[*batchv1.Job] {
	return For[*batchv1.Job](c, namespace)
}

// CronJobs returns the cronjob client of namespace.
func (c *Client) CronJobs(namespace string) *Resource[*batchv1.CronJob] {
	return For[*batchv1.CronJob](c, namespace)
}

// Leases returns the lease client of namespace.
func (c *Client) Leases(namespace string) *Resource[*coordinationv1.Lease] {
	return For[*coordinationv1.Lease](c, namespace)
}

// PriorityClasses returns the priority class client (cluster-scoped).
func (c *Client) PriorityClasses() *Resource[*schedulingv1.PriorityClass] {
	return For[*schedulingv1.PriorityClass](c, "")
}
