// Package volumeattachment is the strategy of the VolumeAttachment kind
// (storage.k8s.io/v1): a request that a CSI driver attach a volume to a
// node, written by the controller-manager; the attacher reports in the
// status.
package volumeattachment

import (
	"keel.dev/keel/pkg/api"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the VolumeAttachment kind's strategy.
var Strategy = &registry.Kind[*storagev1.VolumeAttachment]{
	Identity:           scheme.Kind{Group: api.GroupStorage, Version: "v1", Kind: "VolumeAttachment", Resource: "volumeattachments"},
	ValidateFunc:       validation.VolumeAttachment,
	ValidateUpdateFunc: validation.VolumeAttachmentUpdate,
	ValidateStatusFunc: validation.VolumeAttachmentStatus,
	TableColumns:       printers.VolumeAttachmentColumns,
	RowFunc:            printers.VolumeAttachmentRow,
	DescribeFunc:       printers.DescribeVolumeAttachment,
	// The node authorizer lets a node read the attachments to it.
	Watchers: registry.Watchers{ReadByAPIServer: true},
}
