// Package plugins holds the scheduler's in-tree plugins and the default
// plugin set. Each plugin implements the framework interfaces of the
// extension points it serves; filters are listed cheapest first.
package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"keel.dev/keel/pkg/scheduler/framework"
)

// Plugin names.
const (
	NodeUnschedulableName  = "NodeUnschedulable"
	NodeNameName           = "NodeName"
	TaintTolerationName    = "TaintToleration"
	NodeAffinityName       = "NodeAffinity"
	NodePortsName          = "NodePorts"
	NodeResourcesFitName   = "NodeResourcesFit"
	PodTopologySpreadName  = "PodTopologySpread"
	InterPodAffinityName   = "InterPodAffinity"
	LeastAllocatedName     = "LeastAllocated"
	MostAllocatedName      = "MostAllocated"
	BalancedAllocationName = "BalancedAllocation"
	DefaultSpreadName      = "DefaultSpread"
	DefaultPreemptionName  = "DefaultPreemption"
	DefaultBinderName      = "DefaultBinder"
	VolumeBindingName      = "VolumeBinding"
	NodeVolumeLimitsName   = "NodeVolumeLimits"
	VolumeRestrictionsName = "VolumeRestrictions"
)

// BindFunc binds a pod to a node through the API (the I/O seam of
// DefaultBinder).
type BindFunc func(ctx context.Context, pod *framework.PodInfo, node string) error

// Deps are what plugins need from outside the framework.
type Deps struct {
	// Bind is DefaultBinder's call; required when DefaultBinder is enabled.
	Bind BindFunc
	// Storage and UpdateClaim are VolumeBinding's reads and writes
	// (NodeVolumeLimits and VolumeRestrictions read Storage too);
	// required when they are enabled.
	Storage     StorageLister
	UpdateClaim UpdateClaimFunc
}

// NewRegistry returns the factories of every in-tree plugin.
func NewRegistry(d Deps) framework.Registry {
	return framework.Registry{
		NodeUnschedulableName:  noArgs(func() framework.Plugin { return &NodeUnschedulable{} }),
		NodeNameName:           noArgs(func() framework.Plugin { return &NodeName{} }),
		TaintTolerationName:    noArgs(func() framework.Plugin { return &TaintToleration{} }),
		NodeAffinityName:       noArgs(func() framework.Plugin { return &NodeAffinity{} }),
		NodePortsName:          noArgs(func() framework.Plugin { return &NodePorts{} }),
		NodeResourcesFitName:   NewFit,
		PodTopologySpreadName:  NewPodTopologySpread,
		InterPodAffinityName:   NewInterPodAffinity,
		LeastAllocatedName:     newAllocationScorer(LeastAllocatedName),
		MostAllocatedName:      newAllocationScorer(MostAllocatedName),
		BalancedAllocationName: newAllocationScorer(BalancedAllocationName),
		DefaultSpreadName:      NewDefaultSpread,
		DefaultPreemptionName:  NewDefaultPreemption,
		VolumeBindingName: func(args []byte, h framework.Handle) (framework.Plugin, error) {
			return NewVolumeBinding(args, h, d.Storage, d.UpdateClaim)
		},
		NodeVolumeLimitsName: storagePlugin(d.Storage, func(framework.Handle) framework.Plugin {
			return &NodeVolumeLimits{storage: d.Storage}
		}),
		VolumeRestrictionsName: storagePlugin(d.Storage, func(h framework.Handle) framework.Plugin {
			return &VolumeRestrictions{handle: h, storage: d.Storage}
		}),
		DefaultBinderName: func(args []byte, h framework.Handle) (framework.Plugin, error) {
			if err := decodeArgs(args, &struct{}{}); err != nil {
				return nil, err
			}
			if d.Bind == nil {
				return nil, fmt.Errorf("no bind function")
			}
			return &DefaultBinder{bind: d.Bind}, nil
		},
	}
}

// DefaultPlugins is the default profile: every plugin but MostAllocated,
// in this order, with Kubernetes' default score weights.
func DefaultPlugins() []framework.PluginConfig {
	return []framework.PluginConfig{
		{Name: NodeUnschedulableName},
		{Name: NodeNameName},
		{Name: TaintTolerationName, Weight: 3},
		{Name: NodeAffinityName, Weight: 2},
		{Name: NodePortsName},
		{Name: NodeResourcesFitName},
		{Name: VolumeRestrictionsName},
		{Name: VolumeBindingName},
		{Name: NodeVolumeLimitsName},
		{Name: PodTopologySpreadName, Weight: 2},
		{Name: InterPodAffinityName, Weight: 2},
		{Name: LeastAllocatedName, Weight: 1},
		{Name: BalancedAllocationName, Weight: 1},
		{Name: DefaultSpreadName, Weight: 2},
		{Name: DefaultPreemptionName},
		{Name: DefaultBinderName},
	}
}

// OptionalPlugins are known but not enabled by default, with the weight
// they get when enabled without one.
func OptionalPlugins() []framework.PluginConfig {
	return []framework.PluginConfig{{Name: MostAllocatedName, Weight: 1}}
}

func noArgs(mk func() framework.Plugin) framework.Factory {
	return func(args []byte, _ framework.Handle) (framework.Plugin, error) {
		if err := decodeArgs(args, &struct{}{}); err != nil {
			return nil, err
		}
		return mk(), nil
	}
}

// storagePlugin is the factory of a plugin without arguments that reads
// storage.
func storagePlugin(storage StorageLister, mk func(framework.Handle) framework.Plugin) framework.Factory {
	return func(args []byte, h framework.Handle) (framework.Plugin, error) {
		if err := decodeArgs(args, &struct{}{}); err != nil {
			return nil, err
		}
		if storage == nil {
			return nil, fmt.Errorf("no storage lister")
		}
		return mk(h), nil
	}
}

// decodeArgs decodes JSON arguments strictly (unknown fields are errors).
func decodeArgs(args []byte, into any) error {
	if len(bytes.TrimSpace(args)) == 0 || string(bytes.TrimSpace(args)) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("arguments: %w", err)
	}
	return nil
}

// defaultNormalize scales scores so the highest is MaxNodeScore (reverse:
// the lowest is). All-zero scores stay 0 (reverse: become MaxNodeScore).
func defaultNormalize(scores []framework.NodeScore, reverse bool) {
	var maxS int64
	for _, s := range scores {
		maxS = max(maxS, s.Score)
	}
	if maxS == 0 {
		if reverse {
			for i := range scores {
				scores[i].Score = framework.MaxNodeScore
			}
		}
		return
	}
	for i := range scores {
		s := framework.MaxNodeScore * scores[i].Score / maxS
		if reverse {
			s = framework.MaxNodeScore - s
		}
		scores[i].Score = s
	}
}
