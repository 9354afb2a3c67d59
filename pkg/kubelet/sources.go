package kubelet

import (
	"context"
	"fmt"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"k8s.io/apimachinery/pkg/api/resource"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/token"
	"keel.dev/keel/pkg/kubelet/envvars"
	"keel.dev/keel/pkg/kubelet/nodestatus"
	"keel.dev/keel/pkg/kubelet/podsync"
	"keel.dev/keel/pkg/kubelet/server"
	"keel.dev/keel/pkg/kubelet/volume"
	"keel.dev/keel/pkg/scheme"
)

// sources serves configMaps, secrets and services to the volume manager and
// the env resolution from the watches (objectwatch, informers), falling
// back to a read from the API for an object a watch does not have yet.
type sources struct{ k *Kubelet }

var (
	_           volume.Getter           = sources{}
	_           envvars.Source          = sources{}
	_           envvars.NodeAllocatable = sources{}
	_           server.PodLookup        = lookup{}
	_           volume.CSIHost          = csiHost{}
	readTimeout                         = 10 * time.Second
)

func (s sources) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if cm, ok := s.k.cms.Get(ns, name); ok {
		return cm, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx(), readTimeout)
	defer cancel()
	return s.k.client.ConfigMaps(ns).Get(ctx, name)
}

func (s sources) Secret(ns, name string) (*corev1.Secret, error) {
	if sec, ok := s.k.secrets.Get(ns, name); ok {
		return sec, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx(), readTimeout)
	defer cancel()
	return s.k.client.Secrets(ns).Get(ctx, name)
}

func (s sources) ServiceAccountToken(ctx context.Context, pod *corev1.Pod, audience string, expirationSeconds int64) (string, error) {
	md := pod.GetMetadata()
	return s.k.tokens.Get(ctx, token.Pod{Namespace: md.GetNamespace(), Name: md.GetName(), UID: md.GetUid(), ServiceAccount: pod.GetSpec().GetServiceAccountName()},
		audience, expirationSeconds)
}

// PersistentVolumeClaim and PersistentVolume read a claim of one of the
// node's pods and the volume bound to it from the API (the node authorizer
// allows exactly those).
func (s sources) PersistentVolumeClaim(ns, name string) (*corev1.PersistentVolumeClaim, error) {
	return getServed[*corev1.PersistentVolumeClaim](s, ns, name)
}

func (s sources) PersistentVolume(name string) (*corev1.PersistentVolume, error) {
	return getServed[*corev1.PersistentVolume](s, "", name)
}

// getServed reads an object of a kind this build of the API may not serve
// yet (an error then, not client.For's panic).
func getServed[T scheme.Object](s sources, ns, name string) (T, error) {
	var zero T
	if _, ok := scheme.ByMessage(zero); !ok {
		return zero, fmt.Errorf("%T is not a kind this build serves", zero)
	}
	ctx, cancel := context.WithTimeout(s.ctx(), readTimeout)
	defer cancel()
	return client.For[T](s.k.client, ns).Get(ctx, name)
}

// csiHost serves the volume manager's CSI volumes: the registered node
// plugins, and the CSIDrivers and the node's VolumeAttachments read from
// the API (the node authorizer allows a node these reads).
type csiHost struct{ k *Kubelet }

func (h csiHost) NodeClient(driver string) (csipb.NodeClient, error) {
	return h.k.csiPlugins.NodeClient(driver)
}

func (h csiHost) CSIDriver(name string) (*storagev1.CSIDriver, error) {
	return getServed[*storagev1.CSIDriver](sources(h), "", name)
}

// VolumeAttachment reads the node's watch of the attachments labelled
// for it (a get of an attachment not made yet would be refused by the
// node authorizer).
func (h csiHost) VolumeAttachment(name string) (*storagev1.VolumeAttachment, error) {
	if va, ok := h.k.attachments.Store().GetByName("", name); ok {
		return va, nil
	}
	return nil, apierrors.NotFound("volumeattachments", name)
}

func (h csiHost) NodeName() string { return h.k.cfg.NodeName }

func (s sources) Services(ns string) ([]*corev1.Service, error) {
	if s.k.services.HasSynced() {
		var out []*corev1.Service
		for _, svc := range s.k.services.Store().List() {
			if svc.GetMetadata().GetNamespace() == ns {
				out = append(out, svc)
			}
		}
		return out, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx(), readTimeout)
	defer cancel()
	l, err := s.k.client.Services(ns).List(ctx, client.ListOptions{})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func (s sources) NodeAllocatable() map[string]resource.Quantity {
	return nodestatus.Allocatable(s.k.capacity, s.k.cfg.Reserved)
}

func (s sources) ctx() context.Context {
	if s.k.ctx != nil {
		return s.k.ctx
	}
	return context.Background()
}

// lookup finds containers for the logs/exec server.
type lookup struct{ k *Kubelet }

func (l lookup) instances(ns, name, container string) ([]podsync.Container, error) {
	pod, ok := l.k.pods.Store().GetByName(ns, name)
	if !ok {
		return nil, apierrors.NotFound("pods", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	obs, err := l.k.observer.Pod(ctx, pod.GetMetadata().GetUid())
	if err != nil {
		return nil, err
	}
	var out []podsync.Container
	for _, c := range obs.Containers {
		if c.Name == container {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, &apierrors.Error{Reason: apierrors.ReasonNotFound,
			Message: fmt.Sprintf("container %q of pod %s/%s has not run on node %s", container, ns, name, l.k.cfg.NodeName)}
	}
	// Newest first.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && newer(out[j], out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

func newer(a, b podsync.Container) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.Attempt > b.Attempt
}

func (l lookup) ContainerLogPath(ns, name, container string, previous bool) (string, error) {
	insts, err := l.instances(ns, name, container)
	if err != nil {
		return "", err
	}
	i := 0
	if previous {
		if len(insts) < 2 {
			return "", &apierrors.Error{Reason: apierrors.ReasonNotFound,
				Message: fmt.Sprintf("previous terminated container %q in pod %q not found", container, name)}
		}
		i = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	st, err := l.k.rt.ContainerStatus(ctx, insts[i].ID, false)
	if err != nil {
		return "", err
	}
	if p := st.GetStatus().GetLogPath(); p != "" {
		return p, nil
	}
	return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("container %q of pod %s/%s has no log", container, ns, name)}
}

func (l lookup) SandboxID(ns, name string) (string, error) {
	pod, ok := l.k.pods.Store().GetByName(ns, name)
	if !ok {
		return "", apierrors.NotFound("pods", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	obs, err := l.k.observer.Pod(ctx, pod.GetMetadata().GetUid())
	if err != nil {
		return "", err
	}
	var best *podsync.Sandbox
	for i, s := range obs.Sandboxes {
		if s.Ready && (best == nil || s.CreatedAt.After(best.CreatedAt)) {
			best = &obs.Sandboxes[i]
		}
	}
	if best == nil {
		return "", &apierrors.Error{Reason: apierrors.ReasonNotFound,
			Message: fmt.Sprintf("pod %s/%s has no running sandbox on node %s", ns, name, l.k.cfg.NodeName)}
	}
	return best.ID, nil
}

func (l lookup) ContainerID(ns, name, container string) (string, error) {
	insts, err := l.instances(ns, name, container)
	if err != nil {
		return "", err
	}
	return insts[0].ID, nil
}
