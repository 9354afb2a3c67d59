package create_test

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/manifest"
)

const testImage = "registry.keel.test/busybox:1.35"

// written lists the names of the objects of the test's kinds in
// namespace ns (and the namespaces), so that tests can check a command
// wrote nothing.
func written(t *testing.T, k *keelctltest.Cluster, ns string) []string {
	t.Helper()
	ctx := k.Ctx()
	var out []string
	add := func(kind string, l []proto.Message, err error) {
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range l {
			out = append(out, kind+"/"+client.ObjectMeta(o).GetName())
		}
	}
	for _, res := range []string{"deployments", "jobs", "configmaps", "secrets", "services", "pods"} {
		r, err := k.C.Resource(res, ns)
		if err != nil {
			t.Fatal(err)
		}
		l, err := r.List(ctx, client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		add(res, l.Items, nil)
	}
	r, err := k.C.Resource("namespaces", "")
	if err != nil {
		t.Fatal(err)
	}
	l, err := r.List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	add("namespaces", l.Items, nil)
	sort.Strings(out)
	return out
}

func intOrString(v *metav1.IntOrString) string {
	if v.GetType() == 1 {
		return v.GetStrVal()
	}
	return itoa(v.GetIntVal())
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func TestCreateGenerators(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	ctx := k.Ctx()
	dir := t.TempDir()

	// deployment
	if out := k.Run("create", "deployment", "web", "--image="+testImage, "--replicas=2", "--port=8080", "--", "httpd", "-f", "-p", "8080").OK(t); out != "deployment.apps/web created\n" {
		t.Errorf("create deployment: %q", out)
	}
	d, err := k.C.Deployments("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	app := map[string]string{"app": "web"}
	spec := d.GetSpec()
	if !keelctltest.JSONEqual(t, d.GetMetadata().GetLabels(), app) || !keelctltest.JSONEqual(t, spec.GetSelector().GetMatchLabels(), app) ||
		!keelctltest.JSONEqual(t, spec.GetTemplate().GetMetadata().GetLabels(), app) || spec.GetReplicas() != 2 {
		t.Errorf("deployment labels, selector or replicas: %v", d)
	}
	cs := spec.GetTemplate().GetSpec().GetContainers()
	if len(cs) != 1 || cs[0].GetName() != "busybox" || cs[0].GetImage() != testImage ||
		!slices.Equal(cs[0].GetCommand(), []string{"httpd", "-f", "-p", "8080"}) || len(cs[0].GetArgs()) != 0 ||
		len(cs[0].GetPorts()) != 1 || cs[0].GetPorts()[0].GetContainerPort() != 8080 {
		t.Errorf("deployment containers: %v", cs)
	}
	// Defaults: one replica, no ports; one container per image.
	k.Run("create", "deploy", "two", "--image=registry.keel.test/pause:3.9", "--image=example.com/a/b/nginx@sha256:0123").OK(t)
	d, err = k.C.Deployments("default").Get(ctx, "two")
	if err != nil {
		t.Fatal(err)
	}
	cs = d.GetSpec().GetTemplate().GetSpec().GetContainers()
	if d.GetSpec().GetReplicas() != 1 || len(cs) != 2 || cs[0].GetName() != "pause" || cs[1].GetName() != "nginx" || len(cs[0].GetPorts()) != 0 {
		t.Errorf("deployment defaults: %v", d.GetSpec())
	}
	k.Run("create", "deployment", "web", "--image="+testImage).Fails(t, `Error from server (AlreadyExists): deployments.apps "web" already exists`)

	// namespace, and -n
	if out := k.Run("create", "namespace", "shop").OK(t); out != "namespace/shop created\n" {
		t.Errorf("create namespace: %q", out)
	}
	k.Run("create", "ns", "shop").Fails(t, `Error from server (AlreadyExists): namespaces "shop" already exists`)
	if out := k.Run("-n", "shop", "create", "deployment", "web", "--image="+testImage, "-o", "name").OK(t); out != "deployment.apps/web\n" {
		t.Errorf("create deployment -n -o name: %q", out)
	}
	if _, err := k.C.Deployments("shop").Get(ctx, "web"); err != nil {
		t.Errorf("deployment in shop: %v", err)
	}

	// job
	if out := k.Run("create", "job", "hello", "--image="+testImage, "--", "echo", "hello world").OK(t); out != "job.batch/hello created\n" {
		t.Errorf("create job: %q", out)
	}
	j, err := k.C.Jobs("default").Get(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	ps := j.GetSpec().GetTemplate().GetSpec()
	if ps.GetRestartPolicy() != "Never" || len(ps.GetContainers()) != 1 || ps.GetContainers()[0].GetName() != "hello" ||
		ps.GetContainers()[0].GetImage() != testImage || !slices.Equal(ps.GetContainers()[0].GetCommand(), []string{"echo", "hello world"}) {
		t.Errorf("job pod spec: %v", ps)
	}

	// configmap
	conf := keelctltest.Write(t, dir, "app.conf", "mode: fast\n")
	other := keelctltest.Write(t, dir, "other.txt", "other")
	keelctltest.Write(t, dir, "d/one", "1")
	keelctltest.Write(t, dir, "d/two", "2")
	keelctltest.Write(t, dir, "d/sub/ignored", "x")
	keelctltest.Write(t, dir, "bin/blob", "\xff\xfe\x00")
	if out := k.Run("create", "configmap", "settings", "--from-literal=mode=fast", "--from-literal=eq=a=b", `--from-literal=q="quoted"`,
		"--from-file="+conf, "--from-file=renamed="+other, "--from-file="+dir+"/d", "--from-file="+dir+"/bin").OK(t); out != "configmap/settings created\n" {
		t.Errorf("create configmap: %q", out)
	}
	cm, err := k.C.ConfigMaps("default").Get(ctx, "settings")
	if err != nil {
		t.Fatal(err)
	}
	wantData := map[string]string{"mode": "fast", "eq": "a=b", "q": "quoted", "app.conf": "mode: fast\n", "renamed": "other", "one": "1", "two": "2"}
	if !keelctltest.JSONEqual(t, cm.GetData(), wantData) || string(cm.GetBinaryData()["blob"]) != "\xff\xfe\x00" || len(cm.GetBinaryData()) != 1 {
		t.Errorf("configmap data %v binaryData %v", cm.GetData(), cm.GetBinaryData())
	}
	k.Run("create", "cm", "empty").OK(t)

	// secret generic
	if out := k.Run("create", "secret", "generic", "db", "--from-literal=user=admin", "--from-literal=password=s3cr=t", "--from-file=renamed="+other).OK(t); out != "secret/db created\n" {
		t.Errorf("create secret: %q", out)
	}
	s, err := k.C.Secrets("default").Get(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.GetData(); len(got) != 3 || string(got["user"]) != "admin" || string(got["password"]) != "s3cr=t" || string(got["renamed"]) != "other" {
		t.Errorf("secret data %v", got)
	}
	k.Run("create", "secret", "generic", "tok", "--type=example.com/token", "--from-literal=t=x").OK(t)
	if s, _ := k.C.Secrets("default").Get(ctx, "tok"); s.GetType() != "example.com/token" {
		t.Errorf("secret type %q", s.GetType())
	}

	// service clusterip, nodeport
	if out := k.Run("create", "service", "clusterip", "web", "--tcp=80:8080", "--tcp=443:https", "--tcp=9090").OK(t); out != "service/web created\n" {
		t.Errorf("create service clusterip: %q", out)
	}
	svc, err := k.C.Services("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if svc.GetSpec().GetType() != "ClusterIP" || svc.GetSpec().GetClusterIp() == "" || !keelctltest.JSONEqual(t, svc.GetSpec().GetSelector(), app) || !keelctltest.JSONEqual(t, svc.GetMetadata().GetLabels(), app) {
		t.Errorf("service: %v", svc.GetSpec())
	}
	var got []string
	for _, p := range svc.GetSpec().GetPorts() {
		got = append(got, p.GetName()+" "+p.GetProtocol()+" "+itoa(p.GetPort())+"->"+intOrString(p.GetTargetPort()))
	}
	if want := []string{"80-8080 TCP 80->8080", "443-https TCP 443->https", "9090 TCP 9090->9090"}; !slices.Equal(got, want) {
		t.Errorf("service ports %q, want %q", got, want)
	}
	if out := k.Run("create", "svc", "nodeport", "public", "--tcp=80:8080", "--node-port=30080").OK(t); out != "service/public created\n" {
		t.Errorf("create service nodeport: %q", out)
	}
	svc, err = k.C.Services("default").Get(ctx, "public")
	if err != nil {
		t.Fatal(err)
	}
	if svc.GetSpec().GetType() != "NodePort" || svc.GetSpec().GetPorts()[0].GetNodePort() != 30080 || !keelctltest.JSONEqual(t, svc.GetSpec().GetSelector(), map[string]string{"app": "public"}) {
		t.Errorf("nodeport service: %v", svc.GetSpec())
	}
	k.Run("create", "service", "nodeport", "auto", "--tcp=80").OK(t)
	if svc, _ := k.C.Services("default").Get(ctx, "auto"); svc.GetSpec().GetPorts()[0].GetNodePort() == 0 {
		t.Errorf("no node port allocated: %v", svc.GetSpec())
	}
	k.Run("create", "service", "clusterip", "headless", "--clusterip=None", "--tcp=5432").OK(t)
	if svc, _ := k.C.Services("default").Get(ctx, "headless"); svc.GetSpec().GetClusterIp() != "None" {
		t.Errorf("headless service: %v", svc.GetSpec())
	}
	k.Run("create", "service", "clusterip", "web", "--tcp=80").Fails(t, `Error from server (AlreadyExists): services "web" already exists`)

	// -o yaml prints the object the server stored; --save-config lets
	// apply take it over silently.
	out := k.Run("create", "configmap", "saved", "--from-literal=a=b", "--save-config", "-o", "yaml").OK(t)
	objs, err := manifest.Decode("out", []byte(out))
	if err != nil || len(objs) != 1 || client.ObjectMeta(objs[0].Message).GetUid() == "" {
		t.Errorf("-o yaml: %v\n%s", err, out)
	}
	cmYAML := keelctltest.Write(t, dir, "saved.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: saved\ndata:\n  a: b\n")
	if r := k.Run("apply", "-f", cmYAML); r.OK(t) != "configmap/saved unchanged\n" || r.Err != "" {
		t.Errorf("apply after create --save-config: %+v", r)
	}
}

func TestCreateGeneratorsDryRun(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	before := written(t, k, "default")

	out := k.Run("create", "deployment", "web", "--image="+testImage, "--port=80", "--dry-run=client", "-o", "yaml", "--", "httpd", "-f").OK(t)
	objs, err := manifest.Decode("out", []byte(out))
	if err != nil || len(objs) != 1 {
		t.Fatalf("dry-run -o yaml does not decode: %v\n%s", err, out)
	}
	d, ok := objs[0].Message.(*appsv1.Deployment)
	if !ok || d.GetMetadata().GetName() != "web" || d.GetMetadata().GetNamespace() != "" || d.GetSpec().GetReplicas() != 1 ||
		d.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetPorts()[0].GetContainerPort() != 80 {
		t.Errorf("dry-run deployment:\n%s", out)
	}
	// The printed manifest creates the same object.
	if !strings.HasPrefix(out, "apiVersion: apps/v1\nkind: Deployment\n") {
		t.Errorf("dry-run yaml header:\n%s", out)
	}
	out = k.Run("-n", "shop", "create", "service", "nodeport", "web", "--tcp=80:8080", "--dry-run", "-o", "json").OK(t)
	var svc map[string]any
	if err := keelctltest.JSONUnmarshal(out, &svc); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if md := svc["metadata"].(map[string]any); svc["kind"] != "Service" || md["namespace"] != "shop" {
		t.Errorf("dry-run json: %s", out)
	}
	for _, args := range [][]string{
		{"create", "deployment", "web", "--image=" + testImage, "--dry-run=client"},
		{"create", "job", "j", "--image=" + testImage, "--dry-run=server"},
		{"create", "namespace", "ns1", "--dry-run=client"},
		{"create", "namespace", "ns2", "--dry-run=server"},
		{"create", "configmap", "c", "--from-literal=a=b", "--dry-run=server", "-o", "yaml"},
		{"create", "secret", "generic", "s", "--from-literal=a=b", "--dry-run"},
		{"create", "service", "clusterip", "web", "--tcp=80", "--dry-run=server"},
	} {
		r := k.Run(args...)
		r.OK(t)
		if args[len(args)-1] != "yaml" && !strings.HasSuffix(r.Out, " created (dry run)\n") && !strings.HasSuffix(r.Out, " created (server dry run)\n") {
			t.Errorf("%v: %q", args, r.Out)
		}
	}
	if after := written(t, k, "default"); !slices.Equal(before, after) {
		t.Errorf("dry runs wrote objects: before %v, after %v", before, after)
	}
}

func TestCreateGeneratorsBadFlags(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	dir := t.TempDir()
	keelctltest.Write(t, dir, "bad key", "x")
	before := written(t, k, "default")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "deployment", "web"}, "error: --image is required"},
		{[]string{"create", "deployment", "web", "--image="}, "--image is required"},
		{[]string{"create", "deployment", "--image=" + testImage}, "exactly one NAME is required, got 0"},
		{[]string{"create", "deployment", "web", "extra", "--image=" + testImage}, "exactly one NAME is required, got 2"},
		{[]string{"create", "deployment", "web", "--image=a", "--image=b", "--", "sh"}, "several --image"},
		{[]string{"create", "deployment", "web", "--image=" + testImage, "--replicas=-1"}, "--replicas -1"},
		{[]string{"create", "deployment", "web", "--image=" + testImage, "--port=0"}, "--port 0: want a port number between 1 and 65535"},
		{[]string{"create", "deployment", "web", "--image=" + testImage, "--port=x"}, `invalid argument "x" for "--port"`},
		{[]string{"create", "deployment", "web", "--image=" + testImage, "-o", "wide"}, `output format "wide"`},
		{[]string{"create", "deployment", "web", "--image=" + testImage, "--dry-run=maybe"}, `invalid --dry-run value "maybe"`},
		{[]string{"create", "deployment", "Web_1", "--image=" + testImage}, `Deployment.apps "Web_1" is invalid`},
		{[]string{"create", "job", "j"}, "either --image or --from must be specified"},
		{[]string{"create", "namespace"}, "exactly one NAME is required, got 0"},
		{[]string{"create", "configmap", "c", "--from-literal=novalue"}, `--from-literal "novalue": want KEY=VALUE`},
		{[]string{"create", "configmap", "c", "--from-literal==v"}, `--from-literal "=v": want KEY=VALUE`},
		{[]string{"create", "configmap", "c", "--from-literal=a b=v"}, `--from-literal "a b=v": "a b" is not a valid ConfigMap key`},
		{[]string{"create", "configmap", "c", "--from-literal=a=1", "--from-literal=a=2"}, `--from-literal "a=2": the key "a" is given more than once`},
		{[]string{"create", "configmap", "c", "--from-file=" + dir + "/missing"}, `--from-file "` + dir + `/missing"`},
		{[]string{"create", "configmap", "c", "--from-file=k="}, `--from-file "k=": want [KEY=]PATH`},
		{[]string{"create", "configmap", "c", "--from-file=" + dir}, `"bad key" is not a valid ConfigMap key`},
		{[]string{"create", "secret", "generic", "s", "--from-literal=x"}, `--from-literal "x": want KEY=VALUE`},
		{[]string{"create", "secret", "s"}, `unknown secret type "s": want generic`},
		{[]string{"create", "secret"}, `a secret type is required`},
		{[]string{"create", "service", "clusterip", "web"}, "--tcp is required"},
		{[]string{"create", "service", "clusterip", "web", "--tcp=80:x:y"}, `--tcp "80:x:y": want port[:targetPort]`},
		{[]string{"create", "service", "clusterip", "web", "--tcp=0"}, `--tcp "0": want port[:targetPort], the port a number between 1 and 65535`},
		{[]string{"create", "service", "clusterip", "web", "--tcp=80:70000"}, `--tcp "80:70000": want port[:targetPort], the target port`},
		{[]string{"create", "service", "clusterip", "web", "--tcp=80:bad_name"}, `--tcp "80:bad_name"`},
		{[]string{"create", "service", "nodeport", "web", "--tcp=80", "--node-port=-1"}, "--node-port -1"},
		{[]string{"create", "service", "nodeport", "web", "--tcp=80", "--node-port=80"}, `Service "web" is invalid`},
		{[]string{"create", "service", "web", "--tcp=80"}, `unknown service type "web": want clusterip or nodeport`},
		{[]string{"create", "frobnicator", "x"}, `unknown command "frobnicator"`},
	} {
		r := k.Run(c.args...)
		if r.Code != 1 || !strings.Contains(r.Err, c.want) || r.Out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want stderr with %q", c.args, r.Code, r.Out, r.Err, c.want)
		}
	}
	if after := written(t, k, "default"); !slices.Equal(before, after) {
		t.Errorf("bad flags wrote objects: before %v, after %v", before, after)
	}
}

func TestExpose(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	ctx := k.Ctx()
	dir := t.TempDir()

	// create deployment, then expose it as a NodePort service.
	k.Run("create", "deployment", "web", "--image="+testImage, "--port=8080").OK(t)
	if out := k.Run("expose", "deployment", "web", "--port", "80", "--target-port", "8080", "--type", "NodePort").OK(t); out != "service/web exposed\n" {
		t.Errorf("expose: %q", out)
	}
	svc, err := k.C.Services("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	sp := svc.GetSpec()
	if sp.GetType() != "NodePort" || len(sp.GetPorts()) != 1 || sp.GetPorts()[0].GetPort() != 80 || intOrString(sp.GetPorts()[0].GetTargetPort()) != "8080" ||
		sp.GetPorts()[0].GetProtocol() != "TCP" || sp.GetPorts()[0].GetNodePort() == 0 || sp.GetClusterIp() == "" ||
		!keelctltest.JSONEqual(t, svc.GetMetadata().GetLabels(), map[string]string{"app": "web"}) {
		t.Errorf("exposed service: %v", svc)
	}
	// Its selector picks the deployment's pods (a pod made from the
	// template, as the replica set controller would) and no other.
	d, err := k.C.Deployments("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	for name, labels := range map[string]map[string]string{"web-abc12": d.GetSpec().GetTemplate().GetMetadata().GetLabels(), "other": {"app": "other"}} {
		p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Labels: labels}, Spec: keelctltest.Clone(d.GetSpec().GetTemplate().GetSpec())}
		if _, err := k.C.Pods("default").Create(ctx, p, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var sel []string
	for key, v := range sp.GetSelector() {
		sel = append(sel, key+"="+v)
	}
	pods, err := k.C.Pods("default").List(ctx, client.ListOptions{LabelSelector: strings.Join(sel, ",")})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel) == 0 || len(pods.Items) != 1 || pods.Items[0].GetMetadata().GetName() != "web-abc12" {
		t.Errorf("selector %v picks %d pods", sel, len(pods.Items))
	}
	k.Run("expose", "deployment", "web", "--port=80").Fails(t, `Error from server (AlreadyExists): services "web" already exists`)

	// Without --port: the container port (one), as port and target port.
	if out := k.Run("expose", "deploy/web", "--name=web-default").OK(t); out != "service/web-default exposed\n" {
		t.Errorf("expose --name: %q", out)
	}
	svc, _ = k.C.Services("default").Get(ctx, "web-default")
	if p := svc.GetSpec().GetPorts(); len(p) != 1 || p[0].GetPort() != 8080 || intOrString(p[0].GetTargetPort()) != "8080" || svc.GetSpec().GetType() != "ClusterIP" {
		t.Errorf("defaulted port: %v", svc.GetSpec())
	}
	// Several container ports: one service port each, named.
	multi := strings.ReplaceAll(strings.ReplaceAll(keelctltest.WebDeployment, "name: web", "name: multi"), "app: web", "app: multi")
	k.Run("apply", "-f", keelctltest.Write(t, dir, "multi.yaml", multi)).OK(t)
	k.Run("expose", "deployment", "multi").OK(t)
	svc, _ = k.C.Services("default").Get(ctx, "multi")
	var got []string
	for _, p := range svc.GetSpec().GetPorts() {
		got = append(got, p.GetName()+" "+itoa(p.GetPort())+"->"+intOrString(p.GetTargetPort()))
	}
	if want := []string{"port-1 80->80", "port-2 443->443"}; !slices.Equal(got, want) || !keelctltest.JSONEqual(t, svc.GetMetadata().GetLabels(), map[string]string{"app": "multi", "stage": "beta"}) {
		t.Errorf("multi-port service ports %q labels %v", got, svc.GetMetadata().GetLabels())
	}

	// A replica set, a pod (by its labels), a service (by its selector).
	k.Run("apply", "-f", "../../../manifests/examples/frontend.yaml").OK(t)
	k.Run("expose", "rs", "frontend", "--port=80", "--target-port=http", "--protocol=TCP").OK(t)
	svc, _ = k.C.Services("default").Get(ctx, "frontend")
	if !keelctltest.JSONEqual(t, svc.GetSpec().GetSelector(), map[string]string{"tier": "frontend"}) || intOrString(svc.GetSpec().GetPorts()[0].GetTargetPort()) != "http" {
		t.Errorf("replica set service: %v", svc.GetSpec())
	}
	k.Run("expose", "pod", "web-abc12", "--port=8080", "--name=one-pod", "-l", "tier=one").OK(t)
	svc, _ = k.C.Services("default").Get(ctx, "one-pod")
	if !keelctltest.JSONEqual(t, svc.GetSpec().GetSelector(), map[string]string{"app": "web"}) || !keelctltest.JSONEqual(t, svc.GetMetadata().GetLabels(), map[string]string{"tier": "one"}) {
		t.Errorf("pod service selector %v, labels %v", svc.GetSpec().GetSelector(), svc.GetMetadata().GetLabels())
	}
	k.Run("expose", "svc", "web", "--name=web-again", "--selector=app=web,tier=x").OK(t)
	svc, _ = k.C.Services("default").Get(ctx, "web-again")
	if p := svc.GetSpec().GetPorts(); len(p) != 1 || p[0].GetPort() != 80 || !keelctltest.JSONEqual(t, svc.GetSpec().GetSelector(), map[string]string{"app": "web", "tier": "x"}) {
		t.Errorf("service from service: %v", svc.GetSpec())
	}

	// -n; --dry-run writes nothing.
	k.Run("create", "namespace", "shop").OK(t)
	k.Run("-n", "shop", "create", "deployment", "api", "--image="+testImage, "--port=9000").OK(t)
	if out := k.Run("-n", "shop", "expose", "deployment", "api").OK(t); out != "service/api exposed\n" {
		t.Errorf("expose -n: %q", out)
	}
	if _, err := k.C.Services("shop").Get(ctx, "api"); err != nil {
		t.Errorf("service in shop: %v", err)
	}
	before := written(t, k, "default")
	out := k.Run("expose", "deployment", "web", "--name=dry", "--port=80", "--dry-run=client", "-o", "yaml").OK(t)
	objs, err := manifest.Decode("out", []byte(out))
	if err != nil || len(objs) != 1 {
		t.Fatalf("expose --dry-run -o yaml: %v\n%s", err, out)
	}
	if s, ok := objs[0].Message.(*corev1.Service); !ok || s.GetMetadata().GetName() != "dry" || !keelctltest.JSONEqual(t, s.GetSpec().GetSelector(), map[string]string{"app": "web"}) {
		t.Errorf("dry-run service:\n%s", out)
	}
	if out := k.Run("expose", "deployment", "web", "--name=dry", "--port=80", "--dry-run=server").OK(t); out != "service/dry exposed (server dry run)\n" {
		t.Errorf("server dry run: %q", out)
	}

	// Bad input names the flag and writes nothing.
	noPorts := strings.ReplaceAll(strings.ReplaceAll(keelctltest.WebDeployment, "name: web", "name: noports"), "app: web", "app: noports")
	noPorts = noPorts[:strings.Index(noPorts, "        ports:")]
	k.Run("apply", "-f", keelctltest.Write(t, dir, "noports.yaml", noPorts)).OK(t)
	exprs := `apiVersion: apps/v1
kind: Deployment
metadata: {name: exprs}
spec:
  selector:
    matchExpressions: [{key: app, operator: In, values: [exprs]}]
  template:
    metadata: {labels: {app: exprs}}
    spec:
      containers: [{name: c, image: x, ports: [{containerPort: 80}]}]
`
	k.Run("apply", "-f", keelctltest.Write(t, dir, "exprs.yaml", exprs)).OK(t)
	unlabeled := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "bare"}, Spec: keelctltest.Clone(d.GetSpec().GetTemplate().GetSpec())}
	if _, err := k.C.Pods("default").Create(ctx, unlabeled, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before = written(t, k, "default")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"expose", "deployment", "web", "--name=x", "--type=LoadBalancer"}, `--type "LoadBalancer": want ClusterIP or NodePort`},
		{[]string{"expose", "deployment", "web", "--name=x", "--port=http"}, `--port "http": want a port number`},
		{[]string{"expose", "deployment", "web", "--name=x", "--port=0"}, `--port "0"`},
		{[]string{"expose", "deployment", "web", "--name=x", "--target-port=99999"}, `--target-port "99999": want a number between 1 and 65535 or a port name`},
		{[]string{"expose", "deployment", "web", "--name=x", "--protocol=HTTP"}, `--protocol "HTTP": want TCP, UDP or SCTP`},
		{[]string{"expose", "deployment", "web", "--name=x", "--selector=a b"}, `--selector "a b"`},
		{[]string{"expose", "deployment", "web", "--name=x", "-o", "table"}, `output format "table"`},
		{[]string{"expose", "deployment", "noports"}, `--port is required: deployments "noports" has no container port`},
		{[]string{"expose", "deployment", "exprs"}, `matchExpressions`},
		{[]string{"expose", "pod", "bare", "--port=80"}, `pods "bare" has no selector (or labels)`},
		{[]string{"expose", "job", "hello", "--port=80"}, "cannot expose a Job"},
		{[]string{"expose", "deployment"}, "expose takes exactly one resource"},
		{[]string{"expose"}, "a resource is required"},
		{[]string{"expose", "deployment", "nope", "--port=80"}, `Error from server (NotFound): deployments.apps "nope" not found`},
		{[]string{"expose", "deployment", "web", "--name=Bad_Name", "--port=80"}, `Service "Bad_Name" is invalid`},
	} {
		r := k.Run(c.args...)
		if r.Code != 1 || !strings.Contains(r.Err, c.want) || r.Out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want stderr with %q", c.args, r.Code, r.Out, r.Err, c.want)
		}
	}
	if after := written(t, k, "default"); !slices.Equal(before, after) {
		t.Errorf("dry runs or bad flags wrote objects: before %v, after %v", before, after)
	}
	if _, err := k.C.Services("default").Get(ctx, "dry"); !apierrors.IsNotFound(err) {
		t.Errorf("dry run created the service: %v", err)
	}
}
