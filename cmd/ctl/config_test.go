package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client/config"
	"keel.dev/keel/pkg/pki"
)

// keelctlConfig runs keelctl config commands on the file at path.
func keelctlConfig(t *testing.T, path string, args ...string) result {
	t.Helper()
	return runKeelctl(t, runOpts{}, append([]string{"--config", path, "config"}, args...)...)
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
	keelctlConfig(t, path, "current-context").fails(t, "error: current-context is not set")
	if out := keelctlConfig(t, path, "view").ok(t); !strings.Contains(out, "kind: Config") {
		t.Errorf("empty view: %q", out)
	}

	if out := keelctlConfig(t, path, "set-cluster", "prod", "--server", "10.0.0.1:6443", "--server", "https://10.0.0.2:6443,10.0.0.3:6443",
		"--certificate-authority", ca, "--embed-certs").ok(t); out != "Cluster \"prod\" set.\n" {
		t.Errorf("set-cluster: %q", out)
	}
	keelctlConfig(t, path, "set-cluster", "local", "--server", "http://127.0.0.1:6080").ok(t)
	if out := keelctlConfig(t, path, "set-credentials", "admin", "--client-certificate", cert, "--client-key", key, "--embed-certs").ok(t); out != "User \"admin\" set.\n" {
		t.Errorf("set-credentials: %q", out)
	}
	keelctlConfig(t, path, "set-credentials", "files", "--client-certificate", cert, "--client-key", key).ok(t)
	if out := keelctlConfig(t, path, "set-context", "prod", "--cluster", "prod", "--user", "admin", "--namespace", "shop").ok(t); out != "Context \"prod\" created.\n" {
		t.Errorf("set-context: %q", out)
	}
	keelctlConfig(t, path, "set-context", "local", "--cluster", "local").ok(t)
	if out := keelctlConfig(t, path, "use-context", "prod").ok(t); out != "Switched to context \"prod\".\n" {
		t.Errorf("use-context: %q", out)
	}
	if out := keelctlConfig(t, path, "set-context", "--current", "--namespace", "web").ok(t); out != "Context \"prod\" modified.\n" {
		t.Errorf("set-context --current: %q", out)
	}
	if out := keelctlConfig(t, path, "current-context").ok(t); out != "prod\n" {
		t.Errorf("current-context: %q", out)
	}
	out := keelctlConfig(t, path, "get-contexts").ok(t)
	if l := lines(out); len(l) != 3 || l[0] != "CURRENT NAME CLUSTER AUTHINFO NAMESPACE" || l[1] != "* prod prod admin web" || l[2] != "local local" {
		t.Errorf("get-contexts:\n%s", out)
	}
	if out := keelctlConfig(t, path, "get-contexts", "-o", "name").ok(t); out != "prod\nlocal\n" {
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
	out = keelctlConfig(t, path, "view").ok(t)
	if !strings.Contains(out, "certificate-authority-data: DATA+OMITTED") || !strings.Contains(out, "client-key-data: REDACTED") || strings.Contains(out, "LS0t") {
		t.Errorf("view:\n%s", out)
	}
	if out := keelctlConfig(t, path, "view", "--raw").ok(t); !strings.Contains(out, "client-key-data: LS0t") {
		t.Errorf("view --raw:\n%s", out)
	}
	out = keelctlConfig(t, path, "view", "--minify").ok(t)
	if strings.Contains(out, "local") || !strings.Contains(out, "name: prod") {
		t.Errorf("view --minify:\n%s", out)
	}

	// Errors.
	keelctlConfig(t, path, "use-context", "nope").fails(t, `error: no context exists with the name: "nope"`)
	keelctlConfig(t, path, "set-context", "new").fails(t, "needs a cluster")
	keelctlConfig(t, path, "set-cluster", "bad", "--server", "ftp://x:1").fails(t, "unsupported scheme")
	keelctlConfig(t, path, "set-cluster", "bad", "--server", "10.0.0.1:6443", "--certificate-authority", filepath.Join(dir, "missing.crt")).fails(t, "--certificate-authority")
	keelctlConfig(t, path, "set-cluster", "bad", "--server", "10.0.0.1:6443", "--certificate-authority", cert+"x").fails(t, "no such file")
	keelctlConfig(t, path, "set-credentials", "bad", "--client-certificate", cert, "--client-key", pki.KeyPath(pkiDir, pki.CAName)).fails(t, "--client-certificate")
	keelctlConfig(t, path, "set-cluster", "plain", "--server", "http://10.0.0.1:6080").fails(t, "plain text")

	// Rename and delete.
	keelctlConfig(t, path, "rename-context", "local", "dev").ok(t)
	if out := keelctlConfig(t, path, "delete-context", "dev").ok(t); !strings.HasPrefix(out, "deleted context dev from ") {
		t.Errorf("delete-context: %q", out)
	}
	keelctlConfig(t, path, "delete-cluster", "local").ok(t)
	keelctlConfig(t, path, "delete-user", "files").ok(t)
	out = keelctlConfig(t, path, "get-clusters").ok(t)
	if out != "NAME\nprod\n" {
		t.Errorf("get-clusters: %q", out)
	}
	keelctlConfig(t, path, "delete-context", "dev").fails(t, "cannot delete context dev")
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
		"--certificate-authority", pki.CertPath(pkiDir, pki.CAName), "--embed-certs").ok(t)
	keelctlConfig(t, path, "set-credentials", "admin", "--client-certificate", pki.CertPath(pkiDir, pki.AdminName),
		"--client-key", pki.KeyPath(pkiDir, pki.AdminName), "--embed-certs").ok(t)
	keelctlConfig(t, path, "set-context", "local", "--cluster", "local", "--user", "admin").ok(t)
	keelctlConfig(t, path, "use-context", "local").ok(t)

	run := func(args ...string) result {
		return runKeelctl(t, runOpts{}, append([]string{"--config", path}, args...)...)
	}
	out := run("get", "namespaces").ok(t)
	mustHaveLines(t, out, "NAME STATUS AGE", "default Active ")
	out = run("version").ok(t)
	for _, a := range []string{api1.Addr, api2.Addr} {
		if !strings.Contains(out, "Server "+a+": reachable, SERVING\n") {
			t.Errorf("version lacks %s:\n%s", a, out)
		}
	}
	if !strings.Contains(out, "API: ok") {
		t.Errorf("version:\n%s", out)
	}
	// The context's namespace is the default one; -n overrides it.
	keelctlConfig(t, path, "set-context", "--current", "--namespace", "kube-system").ok(t)
	run("apply", "-f", write(t, dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")).ok(t)
	if out := run("get", "cm", "-o", "name").ok(t); out != "configmap/c\n" {
		t.Errorf("context namespace: %q", out)
	}
	if out := run("get", "cm", "-n", "default", "-o", "name").ok(t); out != "" {
		t.Errorf("-n default: %q", out)
	}
	// One apiserver down: still served by the other.
	api1.Stop()
	run("get", "cm", "c").ok(t)
	// A context that names a user without a certificate the server accepts.
	keelctlConfig(t, path, "set-context", "anon", "--cluster", "local").ok(t)
	run("--context", "anon", "get", "pods").fails(t)
}

func TestVersionAPIResourcesCompletion(t *testing.T) {
	t.Parallel()
	k := startCluster(t)
	out := k.run("version").ok(t)
	if !strings.HasPrefix(out, "Client Version: ") || !strings.Contains(out, "Server "+k.addr+": reachable, SERVING\n") {
		t.Errorf("version:\n%s", out)
	}
	if out := runKeelctl(t, runOpts{}, "version", "--client").ok(t); !strings.HasPrefix(out, "Client Version: ") || strings.Contains(out, "Server") {
		t.Errorf("version --client: %q", out)
	}
	runKeelctl(t, runOpts{}, "--config", k.noConf, "--server", "127.0.0.1:1", "--insecure", "version", "--request-timeout=300ms").
		fails(t, "no apiserver of the context answered")

	out = runKeelctl(t, runOpts{}, "api-resources").ok(t)
	l := lines(out)
	if l[0] != "NAME SHORTNAMES APIVERSION NAMESPACED KIND" {
		t.Errorf("header %q", l[0])
	}
	for _, want := range []string{
		"pods po v1 true Pod", "namespaces ns v1 false Namespace", "secrets v1 true Secret",
		"deployments deploy apps/v1 true Deployment", "jobs batch/v1 true Job",
		"leases coordination.k8s.io/v1 true Lease", "priorityclasses pc scheduling.k8s.io/v1 false PriorityClass",
	} {
		if !hasLine(out, want) {
			t.Errorf("api-resources lacks %q:\n%s", want, out)
		}
	}
	if l[1] != "configmaps cm v1 true ConfigMap" {
		t.Errorf("core group first, by name: %q", l[1])
	}
	if out := runKeelctl(t, runOpts{}, "api-resources", "--namespaced=false", "-o", "name").ok(t); out != "namespaces\nnodes\npriorityclasses.scheduling.k8s.io\n" {
		t.Errorf("cluster-scoped: %q", out)
	}

	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := runKeelctl(t, runOpts{}, "completion", sh).ok(t); !strings.Contains(out, "keelctl") {
			t.Errorf("completion %s: %q", sh, out[:min(len(out), 200)])
		}
	}
	runKeelctl(t, runOpts{}, "completion", "tcsh").fails(t, "unsupported shell")
	// Dynamic completion: types, then names from the cluster.
	out = k.run("__complete", "get", "dep").ok(t)
	if !strings.Contains(out, "deployments\n") {
		t.Errorf("type completion: %q", out)
	}
	k.run("apply", "-f", "../../manifests/examples/configmap.yaml").ok(t)
	out = k.run("__complete", "get", "configmaps", "ga").ok(t)
	if !strings.Contains(out, "game-demo\n") {
		t.Errorf("name completion: %q", out)
	}
	// The pki subcommands are still there.
	if out := runKeelctl(t, runOpts{}, "pki", "--help").ok(t); !strings.Contains(out, "init") {
		t.Errorf("pki help: %q", out)
	}
}
