package csiplugin

import (
	"context"
	"slices"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/client"
)

// WithDriver returns cur's spec with d in place of any driver of its
// name (appended when new) and whether an older entry of that name must
// first be removed in an update of its own (the API keeps a driver's
// nodeID, topologyKeys and allocatable as registered). cur may be nil.
// cur is not modified.
func WithDriver(cur *storagev1.CSINodeSpec, d *storagev1.CSINodeDriver) (next *storagev1.CSINodeSpec, removeFirst bool) {
	next = &storagev1.CSINodeSpec{}
	replaced := false
	for _, old := range cur.GetDrivers() {
		if old.GetName() != d.GetName() {
			next.Drivers = append(next.Drivers, proto.Clone(old).(*storagev1.CSINodeDriver))
			continue
		}
		replaced = true
		removeFirst = !proto.Equal(old, d)
	}
	if replaced && !removeFirst {
		return proto.Clone(cur).(*storagev1.CSINodeSpec), false
	}
	next.Drivers = append(next.Drivers, proto.Clone(d).(*storagev1.CSINodeDriver))
	return next, removeFirst
}

// WithoutDriver returns cur's spec without the driver name, and whether it
// had it.
func WithoutDriver(cur *storagev1.CSINodeSpec, name string) (*storagev1.CSINodeSpec, bool) {
	next := &storagev1.CSINodeSpec{}
	for _, d := range cur.GetDrivers() {
		if d.GetName() != name {
			next.Drivers = append(next.Drivers, proto.Clone(d).(*storagev1.CSINodeDriver))
		}
	}
	return next, len(next.Drivers) != len(cur.GetDrivers())
}

// DriverEntry is a driver's CSINode entry from its NodeGetInfo answer:
// node id, the keys of its accessible topology (sorted) and its volume
// limit (max_volumes_per_node; none when 0).
func DriverEntry(name, nodeID string, topology map[string]string, maxVolumes int64) *storagev1.CSINodeDriver {
	d := &storagev1.CSINodeDriver{Name: name, NodeId: nodeID}
	for k := range topology {
		d.TopologyKeys = append(d.TopologyKeys, k)
	}
	slices.Sort(d.TopologyKeys)
	if maxVolumes > 0 {
		n := int32(min(maxVolumes, int64(1<<31-1)))
		d.Allocatable = &storagev1.VolumeNodeResources{Count: &n}
	}
	return d
}

// NodeInfo keeps the node's CSINode through the API: the node authorizer
// lets a kubelet write its own CSINode only.
type NodeInfo struct {
	Client   *client.Client
	NodeName string
}

// Register puts d in the node's CSINode, creating the CSINode (owned by
// the Node, as Kubernetes' kubelet makes it) when missing.
func (n NodeInfo) Register(ctx context.Context, d *storagev1.CSINodeDriver) error {
	csinodes := client.For[*storagev1.CSINode](n.Client, "")
	return client.RetryOnConflict(client.DefaultRetry, func() error {
		cur, err := csinodes.Get(ctx, n.NodeName)
		if apierrors.IsNotFound(err) {
			node, err := n.Client.Nodes().Get(ctx, n.NodeName)
			if err != nil {
				return err
			}
			obj := &storagev1.CSINode{Metadata: &metav1.ObjectMeta{Name: n.NodeName, OwnerReferences: []*metav1.OwnerReference{nodeOwner(node)}},
				Spec: &storagev1.CSINodeSpec{Drivers: []*storagev1.CSINodeDriver{d}}}
			_, err = csinodes.Create(ctx, obj, client.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.Conflict("csinodes", n.NodeName, err.Error()) // read it again
			}
			return err
		}
		if err != nil {
			return err
		}
		spec, removeFirst := WithDriver(cur.GetSpec(), d)
		if proto.Equal(spec, cur.GetSpec()) {
			return nil
		}
		if removeFirst {
			without, _ := WithoutDriver(cur.GetSpec(), d.GetName())
			next := proto.Clone(cur).(*storagev1.CSINode)
			next.Spec = without
			if cur, err = csinodes.Update(ctx, next, client.UpdateOptions{}); err != nil {
				return err
			}
		}
		next := proto.Clone(cur).(*storagev1.CSINode)
		next.Spec = spec
		_, err = csinodes.Update(ctx, next, client.UpdateOptions{})
		return err
	})
}

// Unregister removes the driver name from the node's CSINode.
func (n NodeInfo) Unregister(ctx context.Context, name string) error {
	csinodes := client.For[*storagev1.CSINode](n.Client, "")
	return client.RetryOnConflict(client.DefaultRetry, func() error {
		cur, err := csinodes.Get(ctx, n.NodeName)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		spec, had := WithoutDriver(cur.GetSpec(), name)
		if !had {
			return nil
		}
		next := proto.Clone(cur).(*storagev1.CSINode)
		next.Spec = spec
		_, err = csinodes.Update(ctx, next, client.UpdateOptions{})
		return err
	})
}

func nodeOwner(node *corev1.Node) *metav1.OwnerReference {
	return &metav1.OwnerReference{ApiVersion: "v1", Kind: "Node", Name: node.GetMetadata().GetName(), Uid: node.GetMetadata().GetUid()}
}
