package app

import (
	"context"
	"fmt"
	"sort"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	csictl "keel.dev/keel/pkg/controller/volume/csi"
	"keel.dev/keel/pkg/controller/volume/persistentvolume"
	"keel.dev/keel/pkg/csi"
)

// csiControllers are the CSI parts of the controller-manager: a
// provisioner and an attacher per driver of --csi-controller-endpoints,
// and the attach-detach controller.
type csiControllers struct {
	conns        []*grpc.ClientConn
	attachDetach *csictl.AttachDetach
	attacher     *csictl.Attacher // nil without drivers
}

// newCSIControllers dials each driver's controller service (endpoints:
// driver name → unix socket), adds its provisioner to provisioners, and
// builds the attach-detach controller and the attacher.
func newCSIControllers(endpoints map[string]string, cs *controllerClients, factory *informer.Factory,
	provisioners map[string]persistentvolume.Provisioner, log *zap.Logger) (*csiControllers, error) {
	out := &csiControllers{}
	pvClient := cs.client("persistentvolume-binder")
	drivers := map[string]csipb.ControllerClient{}
	names := make([]string, 0, len(endpoints))
	for name := range endpoints {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, taken := provisioners[name]; taken {
			out.close()
			return nil, fmt.Errorf("--csi-controller-endpoints: %s is a built-in provisioner", name)
		}
		conn, err := csi.Dial(endpoints[name])
		if err != nil {
			out.close()
			return nil, fmt.Errorf("--csi-controller-endpoints %s: %w", name, err)
		}
		out.conns = append(out.conns, conn)
		ctl := csipb.NewControllerClient(conn)
		drivers[name] = ctl
		provisioners[name] = &csictl.Provisioner{Driver: name, Controller: ctl,
			CSINode: func(ctx context.Context, node string) (*storagev1.CSINode, error) {
				return client.For[*storagev1.CSINode](pvClient, "").Get(ctx, node)
			}}
		log.Info("CSI driver's controller service", zap.String("driver", name), zap.String("endpoint", endpoints[name]))
	}
	var err error
	if out.attachDetach, err = csictl.NewAttachDetach(cs.client("attachdetach"), factory, log); err != nil {
		out.close()
		return nil, err
	}
	if len(drivers) > 0 {
		out.attacher = csictl.NewAttacher(cs.client("csi-attacher"), factory, drivers, log)
	}
	return out, nil
}

func (c *csiControllers) names() []string {
	if c.attacher != nil {
		return []string{"attachdetach", "csi-attacher"}
	}
	return []string{"attachdetach"}
}

func (c *csiControllers) synced() bool {
	return c.attachDetach.Synced() && (c.attacher == nil || c.attacher.Synced())
}

// run runs the controllers through run (the controller-manager's counted
// goroutines).
func (c *csiControllers) run(ctx context.Context, run func(func())) {
	run(func() { c.attachDetach.Run(ctx, 5) })
	if c.attacher != nil {
		run(func() { c.attacher.Run(ctx, 5) })
	}
}

func (c *csiControllers) close() {
	for _, conn := range c.conns {
		conn.Close()
	}
}
