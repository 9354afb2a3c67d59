package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client/config"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/pki"
)

// keelctlConfig runs keelctl config commands on the file at path.
func keelctlConfig(t *testing.T, path string, args ...string) keelctltest.Result {
	t.Helper()
	return keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, append([]string{"--config", path, "config"}, args...)...)
}

func TestConfigCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "config")
	pkiDir := filepath.Join(dir, "pki")
	if _, err := pki.Init(pki.InitOptions{Dir: pkiDir, Hostname: "cp1"}); err != nil {
		t.Fatal(err)
	}
	ca, cert, key := pki.CertPath(pkiDir, pki.CAName), pki.CertPath(pkiDir, pki.AdminName), pki.KeyPath(pkiDir, pki.AdminName)

	// Nothing there yet.
	keelctlConfig(t, path, "current-context").Fails(t, "error: current-context is not set")
	if out := keelctlConfig(t, path, "view").OK(t); !strings.Contains(out, "kind: Config") {
		t.Errorf("empty view: %q", out)
	}

	if out := keelctlConfig(t, path, "set-cluster", "prod", "--server", "10.0.0.1:6443", "--server", "https://10.0.0.2:6443,10.0.0.3:6443",
		"--certificate-authority", ca, "--embed-certs").OK(t); out != "Cluster \"prod\" set.\n" {
		t.Errorf("set-cluster: %q", out)
	}
	keelctlConfig(t, path, "set-cluster", "local", "--server", "http://127.0.0.1:6080").OK(t)
	if out := keelctlConfig(t, path, "set-credentials", "admin", "--client-certificate", cert, "--client-key", key, "--embed-certs").OK(t); out != "User \"admin\" set.\n" {
		t.Errorf("set-credentials: %q", out)
	}
	keelctlConfig(t, path, "set-credentials", "files", "--client-certificate", cert, "--client-key", key).OK(t)
	if out := keelctlConfig(t, path, "set-context", "prod", "--cluster", "prod", "--user", "admin", "--namespace", "shop").OK(t); out != "Context \"prod\" created.\n" {
		t.Errorf("set-context: %q", out)
	}
	keelctlConfig(t, path, "set-context", "local", "--cluster", "local").OK(t)
	if out := keelctlConfig(t, path, "use-context", "prod").OK(t); out != "Switched to context \"prod\".\n" {
		t.Errorf("use-context: %q", out)
	}
	if out := keelctlConfig(t, path, "set-context", "--current", "--namespace", "web").OK(t); out != "Context \"prod\" modified.\n" {
		t.Errorf("set-context --current: %q", out)
	}
	if out := keelctlConfig(t, path, "current-context").OK(t); out != "prod\n" {
		t.Errorf("current-context: %q", out)
	}
	out := keelctlConfig(t, path, "get-contexts").OK(t)
	if l := keelctltest.Lines(out); len(l) != 3 || l[0] != "CURRENT NAME CLUSTER AUTHINFO NAMESPACE" || l[1] != "* prod prod admin web" || l[2] != "local local" {
		t.Errorf("get-contexts:\n%s", out)
	}
	if out := keelctlConfig(t, path, "get-contexts", "-o", "name").OK(t); out != "prod\nlocal\n" {
		t.Errorf("get-contexts -o name: %q", out)
	}

	// The file: valid for the client library, certificates embedded or
	// absolute, mode 0600.
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := cfg.Cluster("prod")
	if len(cl.Servers) != 3 || cl.CertificateAuthorityData == "" || cl.CertificateAuthority != "" {
		t.Errorf("cluster %+v", cl)
	}
	u, _ := cfg.User("files")
	if !filepath.IsAbs(u.ClientCertificate) || !filepath.IsAbs(u.ClientKey) {
		t.Errorf("user paths %+v", u)
	}
	if r, err := cfg.Resolve(""); err != nil || r.Namespace != "web" || r.TLS == nil || len(r.TLS.Certificates) != 1 {
		t.Errorf("resolve: %+v %v", r, err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("file mode: %v %v", st.Mode(), err)
	}

	// view hides certificate data unless --raw; --minify keeps the current context.
	out = keelctlConfig(t, path, "view").OK(t)
	if !strings.Contains(out, "certificate-authority-data: DATA+OMITTED") || !strings.Contains(out, "client-key-data: REDACTED") || strings.Contains(out, "LS0t") {
		t.Errorf("view:\n%s", out)
	}
	if out := keelctlConfig(t, path, "view", "--raw").OK(t); !strings.Contains(out, "client-key-data: LS0t") {
		t.Errorf("view --raw:\n%s", out)
	}
	out = keelctlConfig(t, path, "view", "--minify").OK(t)
	if strings.Contains(out, "local") || !strings.Contains(out, "name: prod") {
		t.Errorf("view --minify:\n%s", out)
	}

	// Errors.
	keelctlConfig(t, path, "use-context", "nope").Fails(t, `error: no context exists with the name: "nope"`)
	keelctlConfig(t, path, "set-context", "new").Fails(t, "needs a cluster")
	keelctlConfig(t, path, "set-cluster", "bad", "--server", "ftp://x:1").Fails(t, "unsupported scheme")
	keelctlConfig(t, path, "set-cluster", "bad", "--server", "10.0.0.1:6443", "--certificate-authority", filepath.Join(dir, "missing.crt")).Fails(t, "--certificate-authority")
	keelctlConfig(t, path, "set-cluster", "bad", "--server", "10.0.0.1:6443", "--certificate-authority", cert+"x").Fails(t, "no such file")
	keelctlConfig(t, path, "set-credentials", "bad", "--client-certificate", cert, "--client-key", pki.KeyPath(pkiDir, pki.CAName)).Fails(t, "--client-certificate")
	keelctlConfig(t, path, "set-cluster", "plain", "--server", "http://10.0.0.1:6080").Fails(t, "plain text")

	// Rename and delete.
	keelctlConfig(t, path, "rename-context", "local", "dev").OK(t)
	if out := keelctlConfig(t, path, "delete-context", "dev").OK(t); !strings.HasPrefix(out, "deleted context dev from ") {
		t.Errorf("delete-context: %q", out)
	}
	keelctlConfig(t, path, "delete-cluster", "local").OK(t)
	keelctlConfig(t, path, "delete-user", "files").OK(t)
	out = keelctlConfig(t, path, "get-clusters").OK(t)
	if out != "NAME\nprod\n" {
		t.Errorf("get-clusters: %q", out)
	}
	keelctlConfig(t, path, "delete-context", "dev").Fails(t, "cannot delete context dev")
}

// TestConfigTLS writes a configuration for a TLS apiserver with the config
// commands (as hack/local-up.sh does) and uses it.
func TestConfigTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	if _, err := pki.Init(pki.InitOptions{Dir: pkiDir, Hostname: "cp1"}); err != nil {
		t.Fatal(err)
	}
	tlsConf, err := pki.ServerTLSConfig(pki.CertPath(pkiDir, pki.APIServerName), pki.KeyPath(pkiDir, pki.APIServerName), pki.CertPath(pkiDir, pki.CAName))
	if err != nil {
		t.Fatal(err)
	}
	e := testserver.StartEtcd(t)
	api1 := testserver.StartWith(t, e.Endpoint, testserver.Options{TLS: tlsConf})
	api2 := testserver.StartWith(t, e.Endpoint, testserver.Options{TLS: tlsConf})

	path := filepath.Join(dir, "config")
	keelctlConfig(t, path, "set-cluster", "local", "--server", api1.Addr, "--server", "https://"+api2.Addr,
		"--certificate-authority", pki.CertPath(pkiDir, pki.CAName), "--embed-certs").OK(t)
	keelctlConfig(t, path, "set-credentials", "admin", "--client-certificate", pki.CertPath(pkiDir, pki.AdminName),
		"--client-key", pki.KeyPath(pkiDir, pki.AdminName), "--embed-certs").OK(t)
	keelctlConfig(t, path, "set-context", "local", "--cluster", "local", "--user", "admin").OK(t)
	keelctlConfig(t, path, "use-context", "local").OK(t)

	run := func(args ...string) keelctltest.Result {
		return keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, append([]string{"--config", path}, args...)...)
	}
	out := run("get", "namespaces").OK(t)
	keelctltest.MustHaveLines(t, out, "NAME STATUS AGE", "default Active ")
	out = run("version").OK(t)
	for _, a := range []string{api1.Addr, api2.Addr} {
		if !strings.Contains(out, "Server "+a+": reachable, SERVING\n") {
			t.Errorf("version lacks %s:\n%s", a, out)
		}
	}
	if !strings.Contains(out, "API: ok") {
		t.Errorf("version:\n%s", out)
	}
	// The context's namespace is the default one; -n overrides it.
	keelctlConfig(t, path, "set-context", "--current", "--namespace", "kube-system").OK(t)
	run("apply", "-f", keelctltest.Write(t, dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")).OK(t)
	if out := run("get", "cm", "-o", "name").OK(t); out != "configmap/c\n" {
		t.Errorf("context namespace: %q", out)
	}
	if out := run("get", "cm", "-n", "default", "-o", "name").OK(t); out != "" {
		t.Errorf("-n default: %q", out)
	}
	// One apiserver down: still served by the other.
	api1.Stop()
	run("get", "cm", "c").OK(t)
	// A context that names a user without a certificate the server accepts.
	keelctlConfig(t, path, "set-context", "anon", "--cluster", "local").OK(t)
	run("--context", "anon", "get", "pods").Fails(t)
}

func TestVersionAPIResourcesCompletion(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	out := k.Run("version").OK(t)
	if !strings.HasPrefix(out, "Client Version: ") || !strings.Contains(out, "Server "+k.Addr+": reachable, SERVING\n") {
		t.Errorf("version:\n%s", out)
	}
	if out := keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, "version", "--client").OK(t); !strings.HasPrefix(out, "Client Version: ") || strings.Contains(out, "Server") {
		t.Errorf("version --client: %q", out)
	}
	keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, "--config", k.NoConf, "--server", "127.0.0.1:1", "--insecure", "version", "--request-timeout=300ms").
		Fails(t, "no apiserver of the context answered")

	out = keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, "api-resources").OK(t)
	l := keelctltest.Lines(out)
	if l[0] != "NAME SHORTNAMES APIVERSION NAMESPACED KIND" {
		t.Errorf("header %q", l[0])
	}
	for _, want := range []string{
		"pods po v1 true Pod", "namespaces ns v1 false Namespace", "secrets v1 true Secret",
		"deployments deploy apps/v1 true Deployment", "jobs batch/v1 true Job",
		"leases coordination.k8s.io/v1 true Lease", "priorityclasses pc scheduling.k8s.io/v1 false PriorityClass",
		"persistentvolumeclaims pvc v1 true PersistentVolumeClaim", "storageclasses sc storage.k8s.io/v1 false StorageClass",
		"ingresses ing networking.k8s.io/v1 true Ingress",
	} {
		if !keelctltest.HasLine(out, want) {
			t.Errorf("api-resources lacks %q:\n%s", want, out)
		}
	}
	if l[1] != "configmaps cm v1 true ConfigMap" {
		t.Errorf("core group first, by name: %q", l[1])
	}
	if out := keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, "api-resources", "--namespaced=false", "-o", "name").OK(t); out != "namespaces\nnodes\npersistentvolumes\ncustomresourcedefinitions.apiextensions.k8s.io\nselfsubjectreviews.authentication.k8s.io\nselfsubjectaccessreviews.authorization.k8s.io\nselfsubjectrulesreviews.authorization.k8s.io\nsubjectaccessreviews.authorization.k8s.io\ncertificatesigningrequests.certificates.k8s.io\nnodes.metrics.k8s.io\ningressclasses.networking.k8s.io\nruntimeclasses.node.k8s.io\nclusterrolebindings.rbac.authorization.k8s.io\nclusterroles.rbac.authorization.k8s.io\npriorityclasses.scheduling.k8s.io\ncsidrivers.storage.k8s.io\ncsinodes.storage.k8s.io\nstorageclasses.storage.k8s.io\nvolumeattachments.storage.k8s.io\n" {
		t.Errorf("cluster-scoped: %q", out)
	}

	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, "completion", sh).OK(t); !strings.Contains(out, "keelctl") {
			t.Errorf("completion %s: %q", sh, out[:min(len(out), 200)])
		}
	}
	keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, "completion", "tcsh").Fails(t, "unsupported shell")
	// Dynamic completion: types, then names from the cluster.
	out = k.Run("__complete", "get", "dep").OK(t)
	if !strings.Contains(out, "deployments\n") {
		t.Errorf("type completion: %q", out)
	}
	k.Run("apply", "-f", "../../../manifests/examples/configmap.yaml").OK(t)
	out = k.Run("__complete", "get", "configmaps", "ga").OK(t)
	if !strings.Contains(out, "game-demo\n") {
		t.Errorf("name completion: %q", out)
	}
	// The pki subcommands are still there.
	if out := keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, "pki", "--help").OK(t); !strings.Contains(out, "init") {
		t.Errorf("pki help: %q", out)
	}
}
