package controller

import (
	"context"
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/scheme"
)

// PodFromTemplate is a new pod of owner: the template's labels,
// annotations, finalizers and spec, a name generated from the owner's, and
// owner as its controller.
func PodFromTemplate(owner scheme.Object, t *corev1.PodTemplateSpec) *corev1.Pod {
	m := owner.GetMetadata()
	spec, _ := proto.Clone(t.GetSpec()).(*corev1.PodSpec)
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{
			GenerateName:    m.GetName() + "-",
			Namespace:       m.GetNamespace(),
			Labels:          maps.Clone(t.GetMetadata().GetLabels()),
			Annotations:     maps.Clone(t.GetMetadata().GetAnnotations()),
			Finalizers:      slices.Clone(t.GetMetadata().GetFinalizers()),
			OwnerReferences: []*metav1.OwnerReference{NewControllerRef(owner)},
		},
		Spec: spec,
	}
}

// PodControl creates and deletes the pods of a controller's objects: it
// records Events about the owner (SuccessfulCreate, FailedCreate,
// SuccessfulDelete, FailedDelete) and, when a write fails, tells the
// expectations that its effect will never be seen.
type PodControl struct {
	Client       *client.Client
	Recorder     record.EventRecorder // nil: no events
	Expectations *Expectations
}

// Create creates a pod of owner (whose expectations are under key) from
// the template.
func (pc PodControl) Create(ctx context.Context, key string, owner scheme.Object, t *corev1.PodTemplateSpec) error {
	return pc.CreatePod(ctx, key, owner, PodFromTemplate(owner, t))
}

// CreatePod creates pod, one of owner's (whose expectations are under key),
// recording an event; a failed create is observed at once.
func (pc PodControl) CreatePod(ctx context.Context, key string, owner scheme.Object, pod *corev1.Pod) error {
	created, err := pc.Client.Pods(owner.GetMetadata().GetNamespace()).Create(ctx, pod, client.CreateOptions{})
	if err != nil {
		pc.Expectations.CreationObserved(key)
		pc.event(owner, record.Warning, "FailedCreate", "Error creating: %v", err)
		return err
	}
	pc.event(owner, record.Normal, "SuccessfulCreate", "Created pod: %s", created.GetMetadata().GetName())
	return nil
}

// Delete deletes one of owner's pods (that very pod: its uid is a
// precondition); a pod already gone is not an error.
func (pc PodControl) Delete(ctx context.Context, key string, owner scheme.Object, p *corev1.Pod) error {
	name := p.GetMetadata().GetName()
	_, _, err := pc.Client.Pods(p.GetMetadata().GetNamespace()).Delete(ctx, name,
		client.DeleteOptions{Preconditions: &client.Preconditions{UID: p.GetMetadata().GetUid()}})
	if err != nil && !apierrors.IsNotFound(err) {
		pc.Expectations.DeletionObserved(key, p.GetMetadata().GetUid())
		pc.event(owner, record.Warning, "FailedDelete", "Error deleting: %v", err)
		return err
	}
	pc.event(owner, record.Normal, "SuccessfulDelete", "Deleted pod: %s", name)
	return nil
}

func (pc PodControl) event(owner proto.Message, typ, reason, format string, args ...any) {
	if pc.Recorder != nil {
		pc.Recorder.Eventf(owner, typ, reason, format, args...)
	}
}
