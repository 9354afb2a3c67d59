package create

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// The generators: "create deployment", "create job", "create namespace",
// "create configmap", "create secret generic", "create service clusterip|
// nodeport" build one object from their flags, as kubectl's do, and create
// it (or, with --dry-run=client, only print it). Every flag is checked
// before anything is sent, so bad input writes nothing.

// genOptions are the flags every generator (and expose) shares.
type genOptions struct {
	dryRun     cmdutil.DryRun
	output     string
	saveConfig bool
}

func (g *genOptions) add(cmd *cobra.Command) {
	g.dryRun.Add(cmd)
	cmd.Flags().StringVarP(&g.output, "output", "o", "", `print the object as "yaml" or "json", or only its kind/name ("name")`)
	cmd.Flags().BoolVar(&g.saveConfig, "save-config", false, "record the object in the last-applied annotation, so that apply can later update it")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"yaml", "json", "name"}, cobra.ShellCompDirectiveNoFileComp
	})
}

func (g *genOptions) check() error {
	if err := g.dryRun.Check(); err != nil {
		return err
	}
	switch g.output {
	case "", "yaml", "json", "name":
		return nil
	}
	return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,yaml", g.output)
}

// parse takes the one NAME of a generator from args, the arguments before
// "--"; the ones after it, the container's command, are returned when
// withCommand and an error otherwise. It also checks the shared flags.
func (g *genOptions) parse(cmd *cobra.Command, args []string, withCommand bool) (string, []string, error) {
	n := cmd.ArgsLenAtDash()
	if n < 0 {
		n = len(args)
	}
	if !withCommand {
		n = len(args)
	}
	if n != 1 {
		return "", nil, fmt.Errorf("exactly one NAME is required, got %d", n)
	}
	return args[0], args[1:], g.check()
}

// createGenerated creates obj (of kind k) in the request's namespace, or
// only prints it with --dry-run=client, and reports it as kubectl does:
// "kind.group/name <verb>", or the object with -o yaml|json.
func createGenerated(c *cmdutil.CLI, ctx context.Context, k *scheme.Kind, obj proto.Message, g *genOptions, verb string) error {
	md := scheme.Meta(obj)
	if k.Namespaced && (!g.dryRun.Client() || c.NamespaceFlagSet()) {
		// kubectl leaves the namespace out of a client dry run unless -n
		// names it.
		md.Namespace = c.NS()
	}
	if g.saveConfig {
		m, err := manifest.ToMap(obj)
		if err != nil {
			return err
		}
		applied, err := json.Marshal(m)
		if err != nil {
			return err
		}
		cmdutil.SetAnnotationOn(obj, api.LastAppliedConfigAnnotation, string(applied))
	}
	out := obj
	if !g.dryRun.Client() {
		r, err := c.Resource(k, md.Namespace)
		if err != nil {
			return err
		}
		if out, err = r.Create(ctx, obj, client.CreateOptions{DryRun: g.dryRun.Server()}); err != nil {
			return err
		}
	}
	var b []byte
	var err error
	switch g.output {
	case "yaml":
		b, err = manifest.MarshalYAML(out)
	case "json":
		b, err = manifest.MarshalJSON(out)
	case "name":
		_, err = fmt.Fprintln(c.Out, cmdutil.ObjName(k, out))
		return err
	default:
		_, err = fmt.Fprintf(c.Out, "%s %s%s\n", cmdutil.ObjName(k, out), verb, g.dryRun.Suffix())
		return err
	}
	if err != nil {
		return err
	}
	_, err = c.Out.Write(b)
	return err
}

// kindOf returns the registered kind of a message.
func kindOf(m proto.Message) *scheme.Kind {
	k, ok := scheme.ByMessage(m)
	if !ok {
		panic(fmt.Sprintf("keelctl: %T is not a registered kind", m))
	}
	return k
}

// addGeneratorCommands adds the generators under "create".
func addGeneratorCommands(c *cmdutil.CLI, create *cobra.Command) {
	create.AddCommand(
		newCreateDeploymentCommand(c),
		newCreateJobCommand(c),
		newCreateCronJobCommand(c),
		newCreateNamespaceCommand(c),
		newCreateConfigMapCommand(c),
		newCreateSecretCommand(c),
		newCreateServiceCommand(c),
		newCreateServiceAccountCommand(c),
		newCreateTokenCommand(c),
		newCreateRoleCommand(c),
		newCreateClusterRoleCommand(c),
		newCreateRoleBindingCommand(c),
		newCreateClusterRoleBindingCommand(c),
		newCreateQuotaCommand(c),
	)
}

func newCreateDeploymentCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		g        genOptions
		images   []string
		replicas int32
		port     int32
	)
	cmd := &cobra.Command{
		Use:     "deployment NAME --image=IMAGE [--replicas=N] [--port=PORT] [-- COMMAND [ARG...]]",
		Aliases: []string{"deploy"},
		Short:   "Create a deployment that runs the given image",
		Long: `Create a deployment named NAME, labelled app=NAME and selecting its pods by
that label, with one container per --image (named after the image, without
its registry path or tag). The words after "--" are the container's command.`,
		Example: `  keelctl create deployment web --image=registry.keel.test/busybox:1.35 --replicas=3 --port=8080 -- httpd -f -p 8080
  keelctl create deployment web --image=registry.keel.test/busybox:1.35 --dry-run=client -o yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, command, err := g.parse(cmd, args, true)
			if err != nil {
				return err
			}
			if len(images) == 0 {
				return errors.New("--image is required")
			}
			for _, im := range images {
				if strings.TrimSpace(im) == "" {
					return errors.New("--image is required (it may not be empty)")
				}
			}
			if len(images) > 1 && len(command) > 0 {
				return errors.New("a command (after --) cannot be given with several --image flags")
			}
			if replicas < 0 {
				return fmt.Errorf("--replicas %d: want a number of replicas, 0 or more", replicas)
			}
			if cmd.Flags().Changed("port") {
				if err := checkPortNum("--port", port); err != nil {
					return err
				}
			}
			labels := map[string]string{"app": name}
			spec := &corev1.PodSpec{}
			for _, im := range images {
				spec.Containers = append(spec.Containers, &corev1.Container{Name: containerNameFor(im), Image: im, Command: command})
			}
			if port >= 0 {
				spec.Containers[0].Ports = []*corev1.ContainerPort{{ContainerPort: port}}
			}
			d := &appsv1.Deployment{
				Metadata: &metav1.ObjectMeta{Name: name, Labels: cmdutil.CopyMap(labels)},
				Spec: &appsv1.DeploymentSpec{
					Replicas: proto.Int32(replicas),
					Selector: &metav1.LabelSelector{MatchLabels: cmdutil.CopyMap(labels)},
					Template: &corev1.PodTemplateSpec{
						Metadata: &metav1.ObjectMeta{Labels: cmdutil.CopyMap(labels)},
						Spec:     spec,
					},
				},
			}
			return createGenerated(c, cmd.Context(), kindOf(d), d, &g, "created")
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&images, "image", nil, "the image of a container (repeatable: one container per image)")
	f.Int32Var(&replicas, "replicas", 1, "the number of replicas")
	f.Int32Var(&port, "port", -1, "the port the (first) container exposes")
	g.add(cmd)
	return cmd
}

// containerNameFor names a container after its image, as kubectl does: the
// last path element without tag or digest; a name with "_" or "." gets them
// replaced by "-" and a random suffix.
func containerNameFor(image string) string {
	name := image[strings.LastIndex(image, "/")+1:]
	if i := strings.IndexAny(name, ":@"); i >= 0 {
		name = name[:i]
	}
	if strings.ContainsAny(name, "_.") {
		name = strings.NewReplacer("_", "-", ".", "-").Replace(name) + "-" + randomSuffix(5)
	}
	return name
}

func randomSuffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

func newCreateJobCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		g     genOptions
		image string
		from  string
	)
	cmd := &cobra.Command{
		Use:   "job NAME --image=IMAGE [-- COMMAND [ARG...]] | job NAME --from=cronjob/CRONJOB",
		Short: "Create a job that runs the given image once",
		Long: `Create a job named NAME with one container, also named NAME, running the
image; its pods are not restarted (restartPolicy Never). The words after "--"
are the container's command. With --from=cronjob/CRONJOB the job is made from
that cronjob's job template instead (and owned by it), as the cronjob would
make it at a scheduled time.`,
		Example: `  keelctl create job hello --image=registry.keel.test/busybox:1.35 -- echo hello
  keelctl create job test-run --from=cronjob/nightly`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, command, err := g.parse(cmd, args, true)
			if err != nil {
				return err
			}
			if from != "" {
				if image != "" || len(command) > 0 {
					return errors.New("--from cannot be given with --image or a command")
				}
				j, err := jobFromCronJob(cmd.Context(), c, from, name)
				if err != nil {
					return err
				}
				return createGenerated(c, cmd.Context(), kindOf(j), j, &g, "created")
			}
			if strings.TrimSpace(image) == "" {
				return errors.New("either --image or --from must be specified")
			}
			j := &batchv1.Job{
				Metadata: &metav1.ObjectMeta{Name: name},
				Spec: &batchv1.JobSpec{
					Template: &corev1.PodTemplateSpec{
						Spec: &corev1.PodSpec{
							Containers:    []*corev1.Container{{Name: name, Image: image, Command: command}},
							RestartPolicy: api.RestartPolicyNever,
						},
					},
				},
			}
			return createGenerated(c, cmd.Context(), kindOf(j), j, &g, "created")
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "the image of the job's container")
	cmd.Flags().StringVar(&from, "from", "", "the cronjob to make the job from (cronjob/NAME)")
	g.add(cmd)
	return cmd
}

func newCreateNamespaceCommand(c *cmdutil.CLI) *cobra.Command {
	var g genOptions
	cmd := &cobra.Command{
		Use:     "namespace NAME",
		Aliases: []string{"ns"},
		Short:   "Create a namespace",
		Example: `  keelctl create namespace shop`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, _, err := g.parse(cmd, args, false)
			if err != nil {
				return err
			}
			ns := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}}
			return createGenerated(c, cmd.Context(), kindOf(ns), ns, &g, "created")
		},
	}
	g.add(cmd)
	return cmd
}

// dataSources are the --from-literal and --from-file flags of "create
// configmap" and "create secret generic".
type dataSources struct {
	literals []string
	files    []string
}

func (d *dataSources) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&d.literals, "from-literal", nil, "a key and its value, KEY=VALUE (repeatable)")
	f.StringSliceVar(&d.files, "from-file", nil, "[KEY=]PATH: a file (its base name is the key unless KEY is given) or a directory (each regular file in it) (repeatable)")
}

// read returns the keys and values the flags give, checking every key
// (what names a ConfigMap or Secret key) and that none is given twice.
func (d *dataSources) read(what string) (map[string][]byte, error) {
	out := map[string][]byte{}
	put := func(flag, arg, key string, value []byte) error {
		if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
			return fmt.Errorf("%s %q: %q is not a valid %s key: %s", flag, arg, key, what, strings.Join(errs, "; "))
		}
		if _, dup := out[key]; dup {
			return fmt.Errorf("%s %q: the key %q is given more than once", flag, arg, key)
		}
		out[key] = value
		return nil
	}
	for _, l := range d.literals {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--from-literal %q: want KEY=VALUE", l)
		}
		if err := put("--from-literal", l, k, []byte(unquote(v))); err != nil {
			return nil, err
		}
	}
	for _, src := range d.files {
		key, path, keyed := strings.Cut(src, "=")
		if !keyed {
			path = src
		}
		if keyed && (key == "" || path == "" || strings.Contains(path, "=")) {
			return nil, fmt.Errorf("--from-file %q: want [KEY=]PATH", src)
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("--from-file %q: %w", src, err)
		}
		if !st.IsDir() {
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("--from-file %q: %w", src, err)
			}
			if !keyed {
				key = filepath.Base(path)
			}
			if err := put("--from-file", src, key, data); err != nil {
				return nil, err
			}
			continue
		}
		if keyed {
			return nil, fmt.Errorf("--from-file %q: a KEY cannot be given for a directory", src)
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("--from-file %q: %w", src, err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			data, err := os.ReadFile(filepath.Join(path, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("--from-file %q: %w", src, err)
			}
			if err := put("--from-file", src, e.Name(), data); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// unquote strips the quotes around a literal value ('v' or "v"), which
// kubectl drops too.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

func newCreateConfigMapCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		g   genOptions
		src dataSources
	)
	cmd := &cobra.Command{
		Use:     "configmap NAME [--from-literal=KEY=VALUE...] [--from-file=[KEY=]PATH...]",
		Aliases: []string{"cm"},
		Short:   "Create a config map from literal values and files",
		Long: `Create a config map named NAME from literal values and files. A file whose
content is not UTF-8 goes into binaryData.`,
		Example: `  keelctl create configmap settings --from-literal=mode=fast --from-file=app.conf
  keelctl create configmap scripts --from-file=start=run.sh --from-file=conf.d/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, _, err := g.parse(cmd, args, false)
			if err != nil {
				return err
			}
			data, err := src.read("ConfigMap")
			if err != nil {
				return err
			}
			cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: name}}
			for k, v := range data {
				if utf8.Valid(v) {
					if cm.Data == nil {
						cm.Data = map[string]string{}
					}
					cm.Data[k] = string(v)
				} else {
					if cm.BinaryData == nil {
						cm.BinaryData = map[string][]byte{}
					}
					cm.BinaryData[k] = v
				}
			}
			return createGenerated(c, cmd.Context(), kindOf(cm), cm, &g, "created")
		},
	}
	src.add(cmd)
	g.add(cmd)
	return cmd
}

func newCreateSecretCommand(c *cmdutil.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret generic NAME [--from-literal=KEY=VALUE...] [--from-file=[KEY=]PATH...]",
		Short: "Create a secret",
		// Anything but a known type is reported as such, whatever flags
		// come with it.
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown secret type %q: want generic", args[0])
			}
			return errors.New(`a secret type is required: "keelctl create secret generic NAME ..."`)
		},
	}
	var (
		g   genOptions
		src dataSources
		typ string
	)
	generic := &cobra.Command{
		Use:   "generic NAME [--type=TYPE] [--from-literal=KEY=VALUE...] [--from-file=[KEY=]PATH...]",
		Short: "Create a secret from literal values and files",
		Example: `  keelctl create secret generic db --from-literal=user=admin --from-literal=password='s3cr=t'
  keelctl create secret generic certs --from-file=tls.crt --from-file=tls.key`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, _, err := g.parse(cmd, args, false)
			if err != nil {
				return err
			}
			data, err := src.read("Secret")
			if err != nil {
				return err
			}
			s := &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: name}, Type: typ}
			if len(data) > 0 {
				s.Data = data
			}
			return createGenerated(c, cmd.Context(), kindOf(s), s, &g, "created")
		},
	}
	generic.Flags().StringVar(&typ, "type", "", "the secret's type (the apiserver defaults it to Opaque)")
	src.add(generic)
	g.add(generic)
	cmd.AddCommand(generic)
	return cmd
}

func newCreateServiceCommand(c *cmdutil.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:                "service clusterip|nodeport NAME --tcp=PORT[:TARGETPORT]...",
		Aliases:            []string{"svc"},
		Short:              "Create a service",
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown service type %q: want clusterip or nodeport", args[0])
			}
			return errors.New(`a service type is required: "keelctl create service clusterip|nodeport NAME ..."`)
		},
	}
	cmd.AddCommand(newCreateServiceTypeCommand(c, api.ServiceTypeClusterIP), newCreateServiceTypeCommand(c, api.ServiceTypeNodePort))
	return cmd
}

// newCreateServiceTypeCommand is "create service clusterip" or "create
// service nodeport": a service named NAME, labelled and selecting app=NAME.
func newCreateServiceTypeCommand(c *cmdutil.CLI, typ string) *cobra.Command {
	var (
		g         genOptions
		tcp       []string
		clusterIP string
		nodePort  int32
	)
	example := `  keelctl create service clusterip web --tcp=80:8080
  keelctl create service clusterip db --clusterip=None --tcp=5432`
	if typ == api.ServiceTypeNodePort {
		example = `  keelctl create service nodeport web --tcp=80:8080
  keelctl create service nodeport web --tcp=80:8080 --node-port=30080`
	}
	cmd := &cobra.Command{
		Use:   strings.ToLower(typ) + " NAME --tcp=PORT[:TARGETPORT]...",
		Short: "Create a " + typ + " service",
		Long: "Create a " + typ + ` service named NAME, labelled app=NAME and selecting the pods
labelled app=NAME. Each --tcp adds a TCP port (the target port defaults to
the port; it may be a container port's name), named PORT-TARGETPORT.`,
		Example: example,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, _, err := g.parse(cmd, args, false)
			if err != nil {
				return err
			}
			headless := typ == api.ServiceTypeClusterIP && clusterIP == api.ClusterIPNone
			if len(tcp) == 0 && !headless {
				return errors.New("--tcp is required: at least one PORT[:TARGETPORT]")
			}
			if nodePort < 0 || nodePort > 65535 {
				return fmt.Errorf("--node-port %d: want a port number between 1 and 65535 (0: the apiserver picks one)", nodePort)
			}
			spec := &corev1.ServiceSpec{
				Type:      typ,
				Selector:  map[string]string{"app": name},
				ClusterIp: clusterIP,
			}
			for _, s := range tcp {
				port, target, err := parseTCPPort(s)
				if err != nil {
					return err
				}
				spec.Ports = append(spec.Ports, &corev1.ServicePort{
					Name:       strings.ReplaceAll(s, ":", "-"),
					Protocol:   api.ProtocolTCP,
					Port:       port,
					TargetPort: target,
					NodePort:   nodePort,
				})
			}
			svc := &corev1.Service{
				Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
				Spec:     spec,
			}
			return createGenerated(c, cmd.Context(), kindOf(svc), svc, &g, "created")
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&tcp, "tcp", nil, "a port of the service, PORT[:TARGETPORT] (repeatable)")
	if typ == api.ServiceTypeClusterIP {
		f.StringVar(&clusterIP, "clusterip", "", `the service's cluster IP ("None": a headless service; default: the apiserver picks one)`)
	} else {
		f.Int32Var(&nodePort, "node-port", 0, "the port every node serves the service on (default: the apiserver picks one)")
	}
	g.add(cmd)
	return cmd
}

// parseTCPPort reads one --tcp value, PORT[:TARGETPORT].
func parseTCPPort(s string) (int32, *metav1.IntOrString, error) {
	bad := func(why string) (int32, *metav1.IntOrString, error) {
		return 0, nil, fmt.Errorf("--tcp %q: want port[:targetPort]%s", s, why)
	}
	parts := strings.Split(s, ":")
	if len(parts) > 2 {
		return bad("")
	}
	port, err := strconv.Atoi(parts[0])
	if err != nil || port < 1 || port > 65535 {
		return bad(", the port a number between 1 and 65535")
	}
	if len(parts) == 1 {
		return int32(port), api.IntOrStringFromInt(int32(port)), nil
	}
	target, err := parseTargetPort(parts[1])
	if err != nil {
		return bad(", the target port " + err.Error())
	}
	return int32(port), target, nil
}

// parseTargetPort reads a target port: a number or a container port name.
func parseTargetPort(s string) (*metav1.IntOrString, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 65535 {
			return nil, errors.New("a number between 1 and 65535 or a port name")
		}
		return api.IntOrStringFromInt(int32(n)), nil
	}
	if errs := validation.IsValidPortName(s); len(errs) > 0 {
		return nil, errors.New("a number between 1 and 65535 or a port name (" + strings.Join(errs, "; ") + ")")
	}
	return api.IntOrStringFromString(s), nil
}

func checkPortNum(flag string, p int32) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("%s %d: want a port number between 1 and 65535", flag, p)
	}
	return nil
}
