package config_test

import (
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/client/config"
	"keel.dev/keel/pkg/pki"
)

type certs struct {
	caPEM, certPEM, keyPEM []byte
	otherKeyPEM            []byte
}

func newCerts(t *testing.T) certs {
	t.Helper()
	ca, err := pki.NewCA("test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pki.Issue(ca, pki.CertSpec{CommonName: "admin", Organization: []string{"system:masters"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.Issue(ca, pki.CertSpec{CommonName: "other", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := admin.KeyPEM()
	otherKey, _ := other.KeyPEM()
	return certs{caPEM: ca.CertPEM(), certPEM: admin.CertPEM(), keyPEM: key, otherKeyPEM: otherKey}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sample(c certs) *config.Config {
	cfg := &config.Config{CurrentContext: "prod"}
	cfg.SetCluster("prod", config.Cluster{Servers: []string{"10.0.0.1:6443", "https://10.0.0.2:6443", "[fd00::3]:6443"}, CertificateAuthorityData: b64(c.caPEM)})
	cfg.SetCluster("local", config.Cluster{Servers: []string{"http://127.0.0.1:6080"}})
	cfg.SetUser("admin", config.User{ClientCertificateData: b64(c.certPEM), ClientKeyData: b64(c.keyPEM)})
	cfg.SetContext("prod", config.Context{Cluster: "prod", User: "admin", Namespace: "apps"})
	cfg.SetContext("local", config.Context{Cluster: "local"})
	return cfg
}

func TestSaveLoadRoundTrip(t *testing.T) {
	c := newCerts(t)
	cfg := sample(c)
	path := filepath.Join(t.TempDir(), "new-dir", "config")
	if err := cfg.Save(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", st.Mode().Perm())
	}
	got, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := *cfg
	want.APIVersion, want.Kind, want.Path = "v1", "Config", path
	// Saved as kubectl reads it: the first server as the URL "server".
	want.Clusters = slices.Clone(cfg.Clusters)
	for i := range want.Clusters {
		cl := &want.Clusters[i].Cluster
		cl.SetServers(cl.Servers)
	}
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, &want)
	}
	data, _ := os.ReadFile(path)
	for _, s := range []string{"current-context: prod", "certificate-authority-data:", "name: local", "http://127.0.0.1:6080"} {
		if !strings.Contains(string(data), s) {
			t.Errorf("saved file lacks %q:\n%s", s, data)
		}
	}

	// Saving again replaces the file (and keeps 0600); Save("") uses Path.
	got.CurrentContext = "local"
	if err := got.Save(""); err != nil {
		t.Fatal(err)
	}
	again, err := config.Load(path)
	if err != nil || again.CurrentContext != "local" {
		t.Fatalf("after second save: %v %v", again, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	// An invalid configuration is not saved.
	got.Clusters[0].Cluster.SetServers(nil)
	if err := got.Save(""); err == nil || !strings.Contains(err.Error(), "clusters[0].cluster.server") {
		t.Fatalf("saving an invalid configuration: %v", err)
	}
}

func TestFindPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(config.EnvVar, "")
	t.Setenv(config.KubeconfigEnvVar, "")
	p, err := config.FindPath("")
	if err != nil || p != filepath.Join(home, ".keel", "config") {
		t.Fatalf("default: %q %v", p, err)
	}
	t.Setenv(config.KubeconfigEnvVar, string(filepath.ListSeparator)+"/kube/a"+string(filepath.ListSeparator)+"/kube/b")
	if p, _ := config.FindPath(""); p != "/kube/a" {
		t.Fatalf("$KUBECONFIG: %q", p)
	}
	t.Setenv(config.EnvVar, "/from/env")
	if p, _ := config.FindPath(""); p != "/from/env" {
		t.Fatalf("$KEELCONFIG: %q", p)
	}
	if p, _ := config.FindPath("/explicit"); p != "/explicit" {
		t.Fatalf("explicit: %q", p)
	}
	t.Setenv(config.EnvVar, filepath.Join(home, "missing"))
	if _, err := config.LoadDefault(""); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(home, "missing")) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	const head = "clusters:\n- name: c\n  cluster:\n    servers: [http://127.0.0.1:6080]\n"
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error besides the file name
	}{
		{"not a mapping", "- a\n- b\n", []string{"must be a YAML mapping"}},
		{"syntax", "clusters: [\n", []string{"yaml"}},
		{"unknown top-level key", "current-contxt: x\n", []string{"current-contxt: unknown field"}},
		{"unknown nested key", "clusters:\n- name: c\n  cluster:\n    servr: 127.0.0.1:6443\n",
			[]string{"clusters[0].cluster.servr: unknown field"}},
		{"wrong type", "clusters:\n- name: c\n  cluster:\n    servers: 127.0.0.1:6443\n",
			[]string{"clusters[0].cluster.servers: want a list"}},
		{"wrong scalar type", head + "    insecure: maybe\n", []string{"clusters[0].cluster.insecure: want true or false"}},
		{"duplicate key", "current-context: a\ncurrent-context: b\n", []string{"already set"}},
		{"apiVersion", "apiVersion: v2\n", []string{"apiVersion:", `"v2"`}},
		{"kind", "kind: Pod\n", []string{"kind:", `"Pod"`}},
		{"no servers", "clusters:\n- name: c\n  cluster: {}\n", []string{"clusters[0].cluster.server: a server is required"}},
		{"cluster name", "clusters:\n- cluster:\n    servers: [http://127.0.0.1:1]\n", []string{"clusters[0].name: required"}},
		{"duplicate cluster", head + "- name: c\n  cluster:\n    servers: [http://127.0.0.1:6081]\n",
			[]string{"clusters[1].name:", "also the name of entry 0"}},
		{"bad server", "clusters:\n- name: c\n  cluster:\n    servers: [127.0.0.1]\n", []string{"clusters[0].cluster.servers[0]:", "host:port"}},
		{"bad port", "clusters:\n- name: c\n  cluster:\n    servers: [127.0.0.1:http]\n", []string{"clusters[0].cluster.servers[0]:", "port"}},
		{"bad scheme", "clusters:\n- name: c\n  cluster:\n    servers: [grpc://127.0.0.1:1]\n", []string{"clusters[0].cluster.servers[0]:", "scheme"}},
		{"path", "clusters:\n- name: c\n  cluster:\n    servers: [https://127.0.0.1:1/api]\n", []string{"clusters[0].cluster.servers[0]:", "path"}},
		{"plain text to the network", "clusters:\n- name: c\n  cluster:\n    servers: [http://127.0.0.1:1, http://10.0.0.1:6080]\n",
			[]string{"clusters[0].cluster.servers[1]:", "loopback"}},
		{"insecure to the network", "clusters:\n- name: c\n  cluster:\n    insecure: true\n    servers: [10.0.0.1:6443]\n",
			[]string{"clusters[0].cluster.servers[0]:", "loopback"}},
		{"mixed", "clusters:\n- name: c\n  cluster:\n    servers: [http://127.0.0.1:1, https://127.0.0.1:2]\n",
			[]string{"clusters[0].cluster.servers:", "mixes"}},
		{"insecure with CA", head + "    insecure: true\n    certificate-authority: ca.crt\n", []string{"clusters[0].cluster.insecure:"}},
		{"both CA forms", "clusters:\n- name: c\n  cluster:\n    servers: [a:1]\n    certificate-authority: x\n    certificate-authority-data: eA==\n",
			[]string{"clusters[0].cluster.certificate-authority-data: set only one"}},
		{"bad base64", "clusters:\n- name: c\n  cluster:\n    servers: [a:1]\n    certificate-authority-data: '%%%'\n",
			[]string{"clusters[0].cluster.certificate-authority-data: not valid base64"}},
		{"user name", "users:\n- user: {}\n", []string{"users[0].name: required"}},
		{"cert without key", "users:\n- name: u\n  user:\n    client-certificate: a.crt\n", []string{"users[0].user.client-key:", "needs its key"}},
		{"key without cert", "users:\n- name: u\n  user:\n    client-key-data: eA==\n", []string{"users[0].user.client-certificate:"}},
		{"both cert forms", "users:\n- name: u\n  user:\n    client-certificate: a\n    client-certificate-data: eA==\n    client-key: k\n",
			[]string{"users[0].user.client-certificate-data: set only one"}},
		{"bad key base64", "users:\n- name: u\n  user:\n    client-certificate: a\n    client-key-data: '!'\n",
			[]string{"users[0].user.client-key-data: not valid base64"}},
		{"context cluster", "contexts:\n- name: x\n  context: {user: u}\n", []string{"contexts[0].context.cluster: required"}},
		{"duplicate context", "contexts:\n- name: x\n  context: {cluster: c}\n- name: x\n  context: {cluster: c}\n", []string{"contexts[1].name:"}},
		{"unknown context key", "contexts:\n- name: x\n  context: {cluster: c, namespaces: a}\n", []string{"contexts[0].context.namespaces: unknown field"}},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := config.Load(path)
			if err == nil {
				t.Fatal("loaded without error")
			}
			if !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("error does not start with the file name: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}

	// Every problem is reported, not just the first.
	path := filepath.Join(dir, "many")
	os.WriteFile(path, []byte("bogus: 1\nclusters:\n- name: c\n  cluster:\n    servers: x\n    extra: 1\n"), 0o600)
	_, err := config.Load(path)
	var cerr *config.Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 3 {
		t.Fatalf("want 3 problems: %v", err)
	}
}

func TestParseServer(t *testing.T) {
	cases := []struct {
		in        string
		addr      string
		plain, lo bool
	}{
		{"10.0.0.1:6443", "10.0.0.1:6443", false, false},
		{"https://api.example.com:6443/", "api.example.com:6443", false, false},
		{"http://127.0.0.5:6080", "127.0.0.5:6080", true, true},
		{"http://[::1]:6080", "[::1]:6080", true, true},
		{"localhost:6443", "localhost:6443", false, true},
	}
	for _, tc := range cases {
		ep, err := config.ParseServer(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if ep.Address != tc.addr || ep.Plaintext != tc.plain || ep.Loopback != tc.lo {
			t.Errorf("%s: %+v", tc.in, ep)
		}
	}
}

func TestResolve(t *testing.T) {
	c := newCerts(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "pki"), 0o700)
	os.WriteFile(filepath.Join(dir, "pki", "ca.crt"), c.caPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "pki", "admin.crt"), c.certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "pki", "admin.key"), c.keyPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "pki", "other.key"), c.otherKeyPEM, 0o600)
	path := filepath.Join(dir, "config")
	write := func(s string) *config.Config {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg := write(`
clusters:
- name: prod
  cluster:
    servers: [10.0.0.1:6443, "https://10.0.0.2:6443"]
    certificate-authority: pki/ca.crt
- name: named
  cluster:
    servers: [10.0.0.1:6443]
    certificate-authority-data: ` + b64(c.caPEM) + `
    tls-server-name: api.internal
- name: local
  cluster:
    servers: ["http://127.0.0.1:6080", "http://localhost:6081"]
- name: noca
  cluster:
    servers: [10.0.0.1:6443]
- name: badca
  cluster:
    servers: [10.0.0.1:6443]
    certificate-authority-data: ` + b64([]byte("not a certificate")) + `
- name: missingca
  cluster:
    servers: [10.0.0.1:6443]
    certificate-authority: pki/nope.crt
users:
- name: admin
  user: {client-certificate: pki/admin.crt, client-key: pki/admin.key}
- name: mismatched
  user: {client-certificate: pki/admin.crt, client-key: pki/other.key}
contexts:
- name: prod
  context: {cluster: prod, user: admin, namespace: apps}
- name: named
  context: {cluster: named, user: admin}
- name: local
  context: {cluster: local}
- name: noca
  context: {cluster: noca, user: admin}
- name: badca
  context: {cluster: badca}
- name: missingca
  context: {cluster: missingca}
- name: mismatched
  context: {cluster: prod, user: mismatched}
- name: nocluster
  context: {cluster: gone}
- name: nouser
  context: {cluster: prod, user: gone}
current-context: prod
`)
	r, err := cfg.Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	if r.Context != "prod" || r.Namespace != "apps" || r.Insecure || r.TLS == nil ||
		!reflect.DeepEqual(r.Servers, []string{"10.0.0.1:6443", "10.0.0.2:6443"}) || len(r.TLS.Certificates) != 1 || r.TLS.ServerName != "" {
		t.Fatalf("prod: %+v", r)
	}
	if r, err := cfg.Resolve("named"); err != nil || r.TLS.ServerName != "api.internal" || r.Namespace != "default" {
		t.Fatalf("named: %+v %v", r, err)
	}
	r, err = cfg.Resolve("local")
	if err != nil || !r.Insecure || r.TLS != nil || !reflect.DeepEqual(r.Servers, []string{"127.0.0.1:6080", "localhost:6081"}) {
		t.Fatalf("local: %+v %v", r, err)
	}

	errCases := map[string][]string{
		"noca":       {"clusters[3].cluster.certificate-authority:", "needs its CA"},
		"badca":      {"clusters[4].cluster.certificate-authority-data:", "no"},
		"missingca":  {"clusters[5].cluster.certificate-authority:", "no such file"},
		"mismatched": {"users[1].user:"},
		"nocluster":  {"contexts[7].context.cluster:", `no cluster named "gone"`},
		"nouser":     {"contexts[8].context.user:", `no user named "gone"`},
		"absent":     {"context:", `no context named "absent"`},
	}
	for name, want := range errCases {
		_, err := cfg.Resolve(name)
		if err == nil {
			t.Errorf("%s: resolved", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), path+": ") {
			t.Errorf("%s: error lacks the file name: %v", name, err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", name, err, w)
			}
		}
	}
	cfg.CurrentContext = ""
	if _, err := cfg.Resolve(""); err == nil || !strings.Contains(err.Error(), "current-context: not set") {
		t.Errorf("no current context: %v", err)
	}
}

// A kubeconfig as kubectl writes it (one server URL, preferences) is a
// Keel configuration, and what Keel writes is one kubectl reads: a
// single server as a URL, more in the servers extension.
func TestKubeconfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	kubectl := `apiVersion: v1
clusters:
- cluster:
    server: http://127.0.0.1:6443
    servers: [http://127.0.0.2:6443, "http://127.0.0.1:6443"]
  name: keel
contexts:
- context: {cluster: keel, namespace: apps}
  name: keel
current-context: keel
kind: Config
preferences: {}
users: []
`
	c, err := config.Parse(path, []byte(kubectl))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"127.0.0.1:6443", "127.0.0.2:6443"}; !slices.Equal(r.Servers, want) {
		t.Errorf("servers %v, want %v", r.Servers, want)
	}

	var cl config.Cluster
	cl.SetServers([]string{"10.0.0.1:6443"})
	if cl.Server != "https://10.0.0.1:6443" || cl.Servers != nil {
		t.Errorf("one server: %+v", cl)
	}
	cl.SetServers([]string{"10.0.0.1:6443", "10.0.0.2:6443"})
	if cl.Server != "https://10.0.0.1:6443" || len(cl.Servers) != 2 || len(cl.Endpoints()) != 2 {
		t.Errorf("two servers: %+v, endpoints %v", cl, cl.Endpoints())
	}
}
