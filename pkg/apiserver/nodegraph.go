package apiserver

import (
	"google.golang.org/protobuf/proto"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/auth/node"
	"keel.dev/keel/pkg/watchcache"
)

// nodeGraphFollower keeps the Node authorizer's graph g in step with the
// pods cache (see follow). The graph holds bound pods only, so pods
// without spec.nodeName (every pod between its create and its binding)
// are not decoded: the cache entry's field set tells them apart.
func nodeGraphFollower(g *node.Graph) follower {
	return follower{
		what:    "node authorizer",
		replace: func(objs []proto.Message) { g.Replace(as[*corev1.Pod](objs)) },
		set:     func(m proto.Message) { g.SetPod(m.(*corev1.Pod)) },
		remove:  g.DeletePod,
		ignored: func(e *watchcache.Entry) bool { return e.Fields["spec.nodeName"] == "" },
	}
}

// nodeGraphClaimFollower keeps the graph's claim -> volume edges in step
// with the claims cache; claims bound to no volume are not decoded.
func nodeGraphClaimFollower(g *node.Graph) follower {
	return follower{
		what:    "node authorizer (claims)",
		replace: func(objs []proto.Message) { g.ReplaceClaims(as[*corev1.PersistentVolumeClaim](objs)) },
		set:     func(m proto.Message) { g.SetClaim(m.(*corev1.PersistentVolumeClaim)) },
		remove:  g.DeleteClaim,
	}
}

// nodeGraphAttachmentFollower keeps the graph's VolumeAttachment -> node
// edges in step with the attachments cache.
func nodeGraphAttachmentFollower(g *node.Graph) follower {
	return follower{
		what:    "node authorizer (volume attachments)",
		replace: func(objs []proto.Message) { g.ReplaceAttachments(as[*storagev1.VolumeAttachment](objs)) },
		set:     func(m proto.Message) { g.SetAttachment(m.(*storagev1.VolumeAttachment)) },
		remove:  g.DeleteAttachment,
	}
}

// as converts decoded objects of one kind to their type.
func as[T proto.Message](objs []proto.Message) []T {
	out := make([]T, len(objs))
	for i, m := range objs {
		out[i] = m.(T)
	}
	return out
}

// pinnedVolumeFollower keeps the volumes pinned to a node by their node
// affinity in the Node authorizer's graph g, in step with the
// persistentvolumes cache.
func pinnedVolumeFollower(g *node.Graph) follower {
	return follower{
		what:    "node authorizer's pinned volumes",
		replace: func(objs []proto.Message) { g.ReplaceVolumes(as[*corev1.PersistentVolume](objs)) },
		set:     func(m proto.Message) { g.SetVolume(m.(*corev1.PersistentVolume)) },
		remove:  func(_, name string) { g.DeleteVolume(name) },
	}
}
