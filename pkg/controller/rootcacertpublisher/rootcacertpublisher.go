// Package rootcacertpublisher is the root CA certificate publisher, as
// Kubernetes': every namespace that is not being deleted has the ConfigMap
// "kube-root-ca.crt" whose "ca.crt" is the cluster's CA bundle, so pods can
// verify the apiserver. It creates the ConfigMap in a new namespace, again
// when it is deleted, and puts its content back when it is changed.
//
// A sync reads the namespace and its ConfigMap from the informers, Decide
// (pure) says what to create or update, and the sync does it.
package rootcacertpublisher

import (
	"context"
	"fmt"
	"maps"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
)

const (
	// ConfigMapName is the ConfigMap published in every namespace.
	ConfigMapName = api.RootCAConfigMapName
	// DataKey is its key holding the PEM CA bundle.
	DataKey = "ca.crt"
	// DescriptionAnnotation describes the ConfigMap to its readers.
	DescriptionAnnotation = "kubernetes.io/description"
	// Description is the value of DescriptionAnnotation.
	Description = "The CA bundle to verify the apiserver by, when reaching it at an in-cluster address such as the kubernetes.default.svc service. Other uses are not promised across clusters."
)

// Controller publishes the CA bundle. Create it with New, then Run.
type Controller struct {
	client *client.Client
	ca     string
	ns     *informer.Informer[*corev1.Namespace]
	cms    *informer.Informer[*corev1.ConfigMap]
	queue  workqueue.Interface[string]
	log    *zap.Logger
}

// New registers the controller's handlers on f's namespace informer and
// its informer of the ConfigMaps named ConfigMapName; ca is the PEM bundle
// to publish, log may be nil.
func New(c *client.Client, f *informer.Factory, ca []byte, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	ctl := &Controller{client: c, ca: string(ca), ns: f.Namespaces(),
		cms:   informer.ForScope[*corev1.ConfigMap](f, informer.Scope{FieldSelector: "metadata.name=" + ConfigMapName}),
		queue: workqueue.New[string]("root-ca-cert-publisher"), log: log.Named("root-ca-cert-publisher")}
	enqueueNS := func(ns *corev1.Namespace) { ctl.queue.Add(ns.GetMetadata().GetName()) }
	ctl.ns.AddEventHandler(informer.HandlerFuncs[*corev1.Namespace]{
		AddFunc:    enqueueNS,
		UpdateFunc: func(_, ns *corev1.Namespace) { enqueueNS(ns) },
	})
	enqueueCM := func(cm *corev1.ConfigMap) { ctl.queue.Add(cm.GetMetadata().GetNamespace()) }
	ctl.cms.AddEventHandler(informer.HandlerFuncs[*corev1.ConfigMap]{
		AddFunc:    enqueueCM,
		UpdateFunc: func(_, cm *corev1.ConfigMap) { enqueueCM(cm) },
		DeleteFunc: enqueueCM,
	})
	return ctl
}

// Synced tells whether the controller's informers have listed.
func (c *Controller) Synced() bool { return c.ns.HasSynced() && c.cms.HasSynced() }

// Run waits for the caches, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.ns.HasSynced, c.cms.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

func (c *Controller) sync(ctx context.Context, name string) error {
	ns, ok := c.ns.Store().GetByName("", name)
	if !ok {
		return nil
	}
	have, _ := c.cms.Store().GetByName(name, ConfigMapName)
	create, update := Decide(ns, have, c.ca)
	cms := client.For[*corev1.ConfigMap](c.client, name)
	switch {
	case create != nil:
		_, err := cms.Create(ctx, create, client.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil // made by someone else: its add event queues the namespace again
		}
		if err != nil {
			return fmt.Errorf("creating configmap %s/%s: %w", name, ConfigMapName, err)
		}
		c.log.Info("published the root CA", zap.String("namespace", name))
	case update != nil:
		_, err := cms.Update(ctx, update, client.UpdateOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil // deleted or changed meanwhile: its event queues the namespace again
		}
		if err != nil {
			return fmt.Errorf("updating configmap %s/%s: %w", name, ConfigMapName, err)
		}
		c.log.Info("restored the root CA", zap.String("namespace", name))
	}
	return nil
}

// Decide returns the ConfigMap to create in ns, or the update of have (the
// namespace's ConfigMapName, nil when it has none), so that it holds
// exactly ca under DataKey and carries the description; both are nil when
// nothing is to be done, and for a namespace being deleted. An update
// keeps have's other metadata (labels, other annotations) and its
// resourceVersion, so it fails on a concurrent change.
func Decide(ns *corev1.Namespace, have *corev1.ConfigMap, ca string) (create, update *corev1.ConfigMap) {
	if ns.GetMetadata().GetDeletionTimestamp() != nil || ns.GetStatus().GetPhase() == api.NamespaceTerminating {
		return nil, nil
	}
	data := map[string]string{DataKey: ca}
	if have == nil {
		return &corev1.ConfigMap{
			Metadata: &metav1.ObjectMeta{Name: ConfigMapName, Namespace: ns.GetMetadata().GetName(),
				Annotations: map[string]string{DescriptionAnnotation: Description}},
			Data: data,
		}, nil
	}
	if maps.Equal(have.GetData(), data) && len(have.GetBinaryData()) == 0 && have.GetMetadata().GetAnnotations()[DescriptionAnnotation] == Description {
		return nil, nil
	}
	next := proto.Clone(have).(*corev1.ConfigMap)
	if next.Metadata == nil {
		next.Metadata = &metav1.ObjectMeta{}
	}
	next.Data, next.BinaryData = data, nil
	if next.Metadata.Annotations == nil {
		next.Metadata.Annotations = map[string]string{}
	}
	next.Metadata.Annotations[DescriptionAnnotation] = Description
	return nil, next
}
