// Package localpath is the kubelet's half of Keel's local-path
// provisioner (see api.LocalPathProvisioner): the controller-manager
// describes a directory per volume, the kubelet makes it when it first
// mounts the volume, and this package removes it. It watches the
// local-path volumes pinned to its node (label api.LabelLocalPathNode);
// once one is being deleted it removes the volume's directory, refusing
// any path that is not a volume directory directly under the root the
// volume records, and then removes the finalizer
// api.LocalPathCleanupFinalizer so the deletion completes. It removes the
// finalizer once per volume: its cache may still show the finalizer after
// the removal (until the update, or the volume's deletion, reaches it),
// and a second update of a volume already gone would be refused.
package localpath

import (
	"context"
	"fmt"
	"os"
	"slices"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
)

// Cleanup decides what to do with vol on node: dir is the directory to
// remove (then the finalizer), "" when there is nothing to do: vol is
// not being deleted, does not carry the finalizer, is not a local-path
// volume, or is pinned to another node. err refuses a directory that is
// not a volume directory directly under the volume's recorded root; the
// finalizer then stays for an administrator.
func Cleanup(vol *corev1.PersistentVolume, node string) (dir string, err error) {
	m := vol.GetMetadata()
	if m.GetDeletionTimestamp() == nil || !slices.Contains(m.GetFinalizers(), api.LocalPathCleanupFinalizer) ||
		m.GetAnnotations()[api.AnnProvisionedBy] != api.LocalPathProvisioner || api.VolumePinnedNode(vol) != node {
		return "", nil
	}
	dir = vol.GetSpec().GetLocal().GetPath()
	if dir == "" {
		dir = vol.GetSpec().GetHostPath().GetPath()
	}
	root := m.GetAnnotations()[api.AnnLocalPathRoot]
	if !api.LocalPathDirUnder(root, dir) {
		return "", fmt.Errorf("refusing to remove %q: not a volume directory directly under the local-path root %q", dir, root)
	}
	return dir, nil
}

// Writer is where the cleaner writes: the volume without its finalizer.
type Writer interface {
	Update(ctx context.Context, vol *corev1.PersistentVolume, opts client.UpdateOptions) (*corev1.PersistentVolume, error)
}

// Cleaner removes the directories of its node's deleted local-path
// volumes. Create it with New, then Run.
type Cleaner struct {
	node    string
	volumes *informer.Informer[*corev1.PersistentVolume]
	// cached is the informer's copy of a volume (by name).
	cached func(name string) (*corev1.PersistentVolume, bool)
	// finalized holds, by volume name, the UID of each volume whose
	// finalizer this cleaner removed and which its cache still holds.
	// Only the single worker touches it.
	finalized map[string]string
	queue     workqueue.Interface[string]
	writer    Writer
	// remove removes a directory and what it holds (os.RemoveAll).
	remove func(string) error
	log    *zap.Logger
}

// New registers the cleaner of node's volumes on f, with an informer of
// the volumes labelled for node; it writes through w. log may be nil.
func New(f *informer.Factory, w Writer, node string, log *zap.Logger) *Cleaner {
	if log == nil {
		log = zap.NewNop()
	}
	c := &Cleaner{node: node, writer: w, remove: os.RemoveAll, log: log.Named("localpath"),
		volumes: informer.ForScope[*corev1.PersistentVolume](f, informer.Scope{LabelSelector: api.LabelLocalPathNode + "=" + node}),
		queue:   workqueue.New[string]("localpath"), finalized: map[string]string{}}
	c.cached = func(name string) (*corev1.PersistentVolume, bool) { return c.volumes.Store().GetByName("", name) }
	enqueue := func(vol *corev1.PersistentVolume) {
		if vol.GetMetadata().GetDeletionTimestamp() != nil {
			c.queue.Add(vol.GetMetadata().GetName())
		}
	}
	c.volumes.AddEventHandler(informer.HandlerFuncs[*corev1.PersistentVolume]{
		AddFunc:    enqueue,
		UpdateFunc: func(_, vol *corev1.PersistentVolume) { enqueue(vol) },
		DeleteFunc: func(vol *corev1.PersistentVolume) { c.queue.Add(vol.GetMetadata().GetName()) },
	})
	return c
}

// Run waits for the cache, then cleans up until ctx ends.
func (c *Cleaner) Run(ctx context.Context) {
	if !informer.WaitForCacheSync(ctx, c.volumes.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, 1, c.sync)
}

func (c *Cleaner) sync(ctx context.Context, name string) error {
	vol, ok := c.cached(name)
	if !ok {
		delete(c.finalized, name)
		return nil
	}
	if uid := vol.GetMetadata().GetUid(); uid != "" && c.finalized[name] == uid {
		return nil // the cache has not caught up with the removal yet
	}
	dir, err := Cleanup(vol, c.node)
	if err != nil {
		c.log.Error("not cleaning up a local-path volume", zap.String("volume", name), zap.Error(err))
		return nil // a fixed volume comes back as an update
	}
	if dir == "" {
		return nil
	}
	if err := c.remove(dir); err != nil {
		return fmt.Errorf("removing the directory of volume %s: %w", name, err)
	}
	c.log.Info("removed the directory of a deleted local-path volume", zap.String("volume", name), zap.String("path", dir))
	next := proto.Clone(vol).(*corev1.PersistentVolume)
	next.Metadata.Finalizers = slices.DeleteFunc(next.Metadata.Finalizers, func(f string) bool { return f == api.LocalPathCleanupFinalizer })
	if _, err := c.writer.Update(ctx, next, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing the finalizer of volume %s: %w", name, err)
	}
	c.finalized[name] = vol.GetMetadata().GetUid()
	return nil
}
