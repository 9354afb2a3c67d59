package create

import (
	"errors"
	"fmt"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
)

// exposeOptions are the flags of expose.
type exposeOptions struct {
	g          genOptions
	port       string
	targetPort string
	protocol   string
	typ        string
	name       string
	selector   string
	labels     string
	clusterIP  string
}

// NewExposeCommand returns the "expose" command.
func NewExposeCommand(c *cmdutil.CLI) *cobra.Command {
	o := &exposeOptions{}
	cmd := &cobra.Command{
		Use:   "expose (deployment|replicaset|pod|service) NAME [--port=PORT] [--target-port=PORT|NAME] [--type=ClusterIP|NodePort] [--name=NAME]",
		Short: "Create a service for the pods of a deployment, replica set, pod or service",
		Long: `Create a service that selects the pods of a deployment or replica set (by its
spec.selector.matchLabels), of a pod (by its labels) or of a service (by its
selector). The service takes the object's name and labels unless --name and
--labels say otherwise.

Without --port, the service serves the object's container ports (a service's
ports); with several, each is a port of its own, named port-1, port-2, ….
The target port defaults to the port.`,
		Example: `  keelctl expose deployment web --port=80 --target-port=8080
  keelctl expose deployment web --port=80 --target-port=8080 --type=NodePort --name=web-public
  keelctl expose pod/web --port=8080 --dry-run=client -o yaml`,
		ValidArgsFunction: c.CompleteResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExpose(c, cmd, args, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.port, "port", "", "the port the service serves on (default: the object's port(s))")
	f.StringVar(&o.targetPort, "target-port", "", "the pods' port (number or container port name) the service sends to (default: the port)")
	f.StringVar(&o.protocol, "protocol", "", "TCP, UDP or SCTP (default: the container port's protocol, else TCP)")
	f.StringVar(&o.typ, "type", "", "the service's type: ClusterIP (the default) or NodePort")
	f.StringVar(&o.name, "name", "", "the service's name (default: the object's)")
	f.StringVar(&o.selector, "selector", "", "the service's selector, KEY=VALUE[,KEY=VALUE...] (default: the object's)")
	f.StringVarP(&o.labels, "labels", "l", "", "the service's labels, KEY=VALUE[,KEY=VALUE...] (default: the object's)")
	f.StringVar(&o.clusterIP, "cluster-ip", "", `the service's cluster IP ("None": a headless service; default: the apiserver picks one)`)
	o.g.add(cmd)
	_ = cmd.RegisterFlagCompletionFunc("type", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{api.ServiceTypeClusterIP, api.ServiceTypeNodePort}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// exposedPort is a port found on the exposed object.
type exposedPort struct {
	port     int32
	protocol string
}

func runExpose(c *cmdutil.CLI, cmd *cobra.Command, args []string, o *exposeOptions) error {
	// Every flag is checked before the object is read.
	if len(args) == 0 {
		return errors.New("a resource is required: TYPE NAME or TYPE/NAME (deployment, replicaset, pod or service)")
	}
	targets, err := c.ParseTargets(cmd.Context(), args)
	if err != nil {
		return err
	}
	if len(targets) != 1 || len(targets[0].Names) != 1 {
		return errors.New("expose takes exactly one resource: TYPE NAME or TYPE/NAME")
	}
	k, objName := targets[0].Kind, targets[0].Names[0]
	if registry.For(k).Expose(k.New()) == nil {
		return fmt.Errorf("cannot expose a %s (keelctl exposes %s)", k.Kind, exposableKinds())
	}
	if err := o.g.check(); err != nil {
		return err
	}
	var port int32
	if o.port != "" {
		n, err := strconv.Atoi(o.port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("--port %q: want a port number between 1 and 65535", o.port)
		}
		port = int32(n)
	}
	var target *metav1.IntOrString
	if o.targetPort != "" {
		if target, err = parseTargetPort(o.targetPort); err != nil {
			return fmt.Errorf("--target-port %q: want %v", o.targetPort, err)
		}
	}
	switch o.protocol {
	case "", api.ProtocolTCP, api.ProtocolUDP, api.ProtocolSCTP:
	default:
		return fmt.Errorf("--protocol %q: want TCP, UDP or SCTP", o.protocol)
	}
	switch o.typ {
	case "", api.ServiceTypeClusterIP, api.ServiceTypeNodePort:
	default:
		return fmt.Errorf("--type %q: want ClusterIP or NodePort", o.typ)
	}
	if o.clusterIP == api.ClusterIPNone && o.typ == api.ServiceTypeNodePort {
		return errors.New(`--cluster-ip "None" (a headless service) cannot be given with --type NodePort`)
	}
	selector, err := parseLabelFlag("--selector", o.selector)
	if err != nil {
		return err
	}
	labels, err := parseLabelFlag("--labels", o.labels)
	if err != nil {
		return err
	}

	r, err := c.Resource(k, c.NS())
	if err != nil {
		return err
	}
	obj, err := r.Get(cmd.Context(), objName)
	if err != nil {
		return err
	}
	objSelector, ports, err := exposable(k, obj)
	if err != nil {
		return err
	}
	if selector == nil {
		if len(objSelector) == 0 {
			return fmt.Errorf("%s %q has no selector (or labels) to select pods by; give one with --selector", k.Resource, objName)
		}
		selector = objSelector
	}
	if labels == nil {
		labels = cmdutil.CopyMap(client.ObjectMeta(obj).GetLabels())
	}
	if len(labels) == 0 {
		labels = nil
	}
	headless := o.clusterIP == api.ClusterIPNone
	protocolOf := func(p exposedPort) string {
		switch {
		case o.protocol != "":
			return o.protocol
		case p.protocol != "":
			return p.protocol
		}
		return api.ProtocolTCP
	}
	var svcPorts []*corev1.ServicePort
	if port != 0 {
		p := exposedPort{port: port}
		for _, q := range ports {
			if q.port == port {
				p.protocol = q.protocol
				break
			}
		}
		svcPorts = append(svcPorts, &corev1.ServicePort{Port: port, Protocol: protocolOf(p)})
	} else {
		if len(ports) == 0 && !headless {
			return fmt.Errorf("--port is required: %s %q has no container port to take it from", k.Resource, objName)
		}
		for i, p := range ports {
			sp := &corev1.ServicePort{Port: p.port, Protocol: protocolOf(p)}
			if len(ports) > 1 {
				sp.Name = fmt.Sprintf("port-%d", i+1)
			}
			svcPorts = append(svcPorts, sp)
		}
	}
	for _, sp := range svcPorts {
		if target != nil {
			sp.TargetPort = proto.Clone(target).(*metav1.IntOrString)
		} else {
			sp.TargetPort = api.IntOrStringFromInt(sp.Port)
		}
	}
	name := o.name
	if name == "" {
		name = objName
	}
	svc := &corev1.Service{
		Metadata: &metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: &corev1.ServiceSpec{
			Ports:     svcPorts,
			Selector:  selector,
			Type:      o.typ,
			ClusterIp: o.clusterIP,
		},
	}
	return createGenerated(c, cmd.Context(), kindOf(svc), svc, &o.g, "exposed")
}

// exposable returns the pod selector of an object expose can expose (its
// kind's strategy says what it stands for), and its ports without
// duplicates.
func exposable(k *scheme.Kind, obj proto.Message) (map[string]string, []exposedPort, error) {
	e := registry.For(k).Expose(obj)
	if e == nil {
		return nil, nil, fmt.Errorf("cannot expose a %s", k.Kind)
	}
	if len(e.Selector.GetMatchExpressions()) > 0 {
		return nil, nil, fmt.Errorf("%s %q cannot be exposed: its selector has matchExpressions, which a service's selector cannot express; give one with --selector",
			strings.ToLower(k.Kind), client.ObjectMeta(obj).GetName())
	}
	var out []exposedPort
	for _, p := range e.Ports {
		out = appendPort(out, exposedPort{port: p.GetContainerPort(), protocol: p.GetProtocol()})
	}
	sel := cmdutil.CopyMap(e.Selector.GetMatchLabels())
	if len(sel) == 0 {
		sel = nil
	}
	return sel, out, nil
}

func appendPort(ports []exposedPort, p exposedPort) []exposedPort {
	if p.protocol == "" {
		p.protocol = api.ProtocolTCP
	}
	for _, q := range ports {
		if q == p {
			return ports
		}
	}
	return append(ports, p)
}

// parseLabelFlag reads KEY=VALUE[,KEY=VALUE...]; nil when the flag is
// empty.
func parseLabelFlag(flag, s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || len(validation.IsQualifiedName(k)) > 0 || len(validation.IsValidLabelValue(v)) > 0 {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE[,KEY=VALUE...] with label keys and values", flag, s)
		}
		out[k] = v
	}
	return out, nil
}

// exposableKinds lists the resources expose accepts: "deployments, pods,
// replicasets and services".
func exposableKinds() string {
	var names []string
	for _, s := range registry.All() {
		if s.Expose(s.Info().New()) != nil {
			names = append(names, s.Info().Resource)
		}
	}
	return cmdutil.Enumerate(names)
}
