package pki

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func testInitOptions(dir string) InitOptions {
	return InitOptions{
		Dir:           dir,
		Hostname:      "cp1",
		APIServerSANs: []string{"api.example.com", "10.0.0.10"},
		EtcdSANs:      []string{"etcd1.example.com", "10.0.0.11"},
		Nodes: []Node{
			{Name: "node1", IPs: []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("fd00::1")}},
			{Name: "node2"},
		},
	}
}

func mustInit(t *testing.T, opts InitOptions) *InitResult {
	t.Helper()
	res, err := Init(opts)
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return res
}

func TestInitBundle(t *testing.T) {
	dir := t.TempDir()
	res := mustInit(t, testInitOptions(dir))
	if len(res.Kept) != 0 || len(res.Warnings) != 0 {
		t.Errorf("first Init kept %v, warned %v", res.Kept, res.Warnings)
	}

	ca, err := LoadKeyPair(dir, CAName)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Cert.IsCA || ca.Cert.Subject.CommonName != "keel-ca" {
		t.Fatalf("CA: IsCA=%v CN=%q", ca.Cert.IsCA, ca.Cert.Subject.CommonName)
	}
	etcdDir := filepath.Join(dir, EtcdDir)
	etcdCA, err := LoadKeyPair(etcdDir, EtcdCAName)
	if err != nil {
		t.Fatal(err)
	}
	if !etcdCA.Cert.IsCA || etcdCA.Cert.Subject.CommonName != "keel-etcd-ca" {
		t.Fatalf("etcd CA: IsCA=%v CN=%q", etcdCA.Cert.IsCA, etcdCA.Cert.Subject.CommonName)
	}
	etcdDNS, etcdIPs := []string{"localhost", "cp1", "etcd1.example.com"}, []string{"127.0.0.1", "::1", "10.0.0.11"}

	tests := []struct {
		name   string
		dir    string // "" is dir
		cn     string
		orgs   []string
		server bool
		client bool // with server: both usages
		etcd   bool // signed by etcd's CA, not the cluster CA
		dns    []string
		ips    []string
	}{
		{name: "apiserver", cn: "keel-apiserver", server: true,
			dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "cp1", "api.example.com"},
			ips: []string{"127.0.0.1", "::1", "10.96.0.1", "10.0.0.10"}},
		{name: "admin", cn: "admin", orgs: []string{"system:masters"}},
		{name: "scheduler", cn: "system:kube-scheduler"},
		{name: "controller-manager", cn: "system:kube-controller-manager"},
		{name: "proxy", cn: "system:kube-proxy"},
		{name: "apiserver-kubelet-client", cn: "system:apiserver", orgs: []string{"system:masters"}},
		{name: "kubelet-node1-client", cn: "system:node:node1", orgs: []string{"system:nodes"}},
		{name: "kubelet-node1-serving", cn: "system:node:node1", orgs: []string{"system:nodes"}, server: true,
			dns: []string{"node1"}, ips: []string{"10.0.0.1", "fd00::1"}},
		{name: "kubelet-node2-client", cn: "system:node:node2", orgs: []string{"system:nodes"}},
		{name: "kubelet-node2-serving", cn: "system:node:node2", orgs: []string{"system:nodes"}, server: true,
			dns: []string{"node2"}},
		{name: "server", dir: etcdDir, cn: "keel-etcd-server", server: true, client: true, etcd: true, dns: etcdDNS, ips: etcdIPs},
		{name: "peer", dir: etcdDir, cn: "keel-etcd-peer", server: true, client: true, etcd: true, dns: etcdDNS, ips: etcdIPs},
		{name: "apiserver-etcd-client", cn: "keel-apiserver-etcd-client", etcd: true},
	}
	wantCreated := []string{CertPath(dir, "ca"), KeyPath(dir, "ca")}
	for _, tt := range tests {
		if tt.dir == "" {
			tt.dir = dir
		}
		if tt.name == "server" {
			wantCreated = append(wantCreated, CertPath(etcdDir, "ca"), KeyPath(etcdDir, "ca"))
		}
		wantCreated = append(wantCreated, CertPath(tt.dir, tt.name), KeyPath(tt.dir, tt.name))
		t.Run(tt.name, func(t *testing.T) {
			checkMode(t, CertPath(tt.dir, tt.name), 0o644)
			checkMode(t, KeyPath(tt.dir, tt.name), 0o600)
			kp, err := LoadKeyPair(tt.dir, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			c := kp.Cert
			if c.Subject.CommonName != tt.cn || !slices.Equal(c.Subject.Organization, tt.orgs) {
				t.Errorf("subject CN=%q O=%q, want CN=%q O=%q", c.Subject.CommonName, c.Subject.Organization, tt.cn, tt.orgs)
			}
			roots, otherRoots := poolOf(ca.Cert), poolOf(etcdCA.Cert)
			if tt.etcd {
				roots, otherRoots = otherRoots, roots
			}
			want, wrong := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			switch {
			case tt.server && tt.client:
				want, wrong = append(want, wrong...), nil
			case tt.server:
				want, wrong = wrong, want
			}
			for _, u := range want {
				if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
					t.Errorf("does not verify for usage %v: %v", u, err)
				}
			}
			if _, err := c.Verify(x509.VerifyOptions{Roots: otherRoots, KeyUsages: want}); err == nil {
				t.Errorf("verifies against the other CA")
			}
			for _, u := range wrong {
				if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{u}}); err == nil {
					t.Errorf("also verifies for usage %v", u)
				}
			}
			if !slices.Equal(c.DNSNames, tt.dns) {
				t.Errorf("DNS SANs %q, want %q", c.DNSNames, tt.dns)
			}
			var ips []string
			for _, ip := range c.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.ips) {
				t.Errorf("IP SANs %q, want %q", ips, tt.ips)
			}
			for _, host := range append(tt.dns, tt.ips...) {
				if err := c.VerifyHostname(host); err != nil {
					t.Errorf("VerifyHostname(%q): %v", host, err)
				}
			}
		})
	}
	wantCreated = append(wantCreated, filepath.Join(dir, ServiceAccountKeyFile), filepath.Join(dir, ServiceAccountPublicKeyFile))
	checkMode(t, filepath.Join(dir, ServiceAccountKeyFile), 0o600)
	if !slices.Equal(res.Created, wantCreated) {
		t.Errorf("Created = %q\nwant      %q", res.Created, wantCreated)
	}
	if files := snapshot(t, dir); len(files) != len(wantCreated) {
		t.Errorf("directory has %d files, want %d", len(files), len(wantCreated))
	}
}

// snapshot maps the path (relative to dir) of every file under dir to its
// content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		m[rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInitIdempotent(t *testing.T) {
	dir := t.TempDir()
	opts := testInitOptions(dir)
	first := mustInit(t, opts)
	before := snapshot(t, dir)

	second := mustInit(t, opts)
	if len(second.Created) != 0 {
		t.Errorf("second Init created %q", second.Created)
	}
	if !slices.Equal(second.Kept, first.Created) {
		t.Errorf("second Init kept %q, want %q", second.Kept, first.Created)
	}
	if len(second.Warnings) != 0 {
		t.Errorf("second Init warned: %q", second.Warnings)
	}
	after := snapshot(t, dir)
	if len(after) != len(before) {
		t.Fatalf("file count changed: %d → %d", len(before), len(after))
	}
	for name, content := range before {
		if after[name] != content {
			t.Errorf("%s changed on the second Init", name)
		}
	}

	// A new node only adds its own pairs, signed by the same CA.
	opts.Nodes = append(opts.Nodes, Node{Name: "node3"})
	third := mustInit(t, opts)
	wantCreated := []string{
		CertPath(dir, "kubelet-node3-client"), KeyPath(dir, "kubelet-node3-client"),
		CertPath(dir, "kubelet-node3-serving"), KeyPath(dir, "kubelet-node3-serving"),
	}
	if !slices.Equal(third.Created, wantCreated) {
		t.Errorf("third Init created %q, want %q", third.Created, wantCreated)
	}
	for name, content := range before {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != content {
			t.Errorf("%s changed when adding a node", name)
		}
	}
	ca, _ := LoadKeyPair(dir, CAName)
	n3, err := LoadKeyPair(dir, "kubelet-node3-client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n3.Cert.Verify(x509.VerifyOptions{Roots: poolOf(ca.Cert), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("new node certificate not signed by the kept CA: %v", err)
	}
}

func TestInitWarnsAboutMissingSANs(t *testing.T) {
	dir := t.TempDir()
	opts := testInitOptions(dir)
	mustInit(t, opts)
	opts.APIServerSANs = append(opts.APIServerSANs, "lb.example.com")
	res := mustInit(t, opts)
	if len(res.Created) != 0 {
		t.Errorf("created %q", res.Created)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "lb.example.com") || !strings.Contains(res.Warnings[0], "apiserver.crt") {
		t.Errorf("warnings %q, want one about apiserver.crt lacking lb.example.com", res.Warnings)
	}
}

func TestInitRefusesInconsistentDirectory(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		wantErr string
	}{
		{"key without cert", func(t *testing.T, dir string) {
			mustInit(t, testInitOptions(dir))
			os.Remove(CertPath(dir, "admin"))
		}, "admin.key exists without"},
		{"cert without key", func(t *testing.T, dir string) {
			mustInit(t, testInitOptions(dir))
			os.Remove(KeyPath(dir, "proxy"))
		}, "proxy.crt exists without"},
		{"leaf from another CA", func(t *testing.T, dir string) {
			mustInit(t, testInitOptions(dir))
			other := mustCA(t)
			kp, err := Issue(other, CertSpec{CommonName: "admin", Client: true})
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(CertPath(dir, "admin"))
			os.Remove(KeyPath(dir, "admin"))
			if err := WriteKeyPair(dir, "admin", kp); err != nil {
				t.Fatal(err)
			}
		}, "admin.crt is not signed by"},
		{"etcd leaf signed by the cluster CA", func(t *testing.T, dir string) {
			mustInit(t, testInitOptions(dir))
			ca, err := LoadKeyPair(dir, CAName)
			if err != nil {
				t.Fatal(err)
			}
			kp, err := Issue(ca, CertSpec{CommonName: "keel-apiserver-etcd-client", Client: true})
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(CertPath(dir, APIServerEtcdClientName))
			os.Remove(KeyPath(dir, APIServerEtcdClientName))
			if err := WriteKeyPair(dir, APIServerEtcdClientName, kp); err != nil {
				t.Fatal(err)
			}
		}, "apiserver-etcd-client.crt is not signed by "},
		{"etcd CA missing", func(t *testing.T, dir string) {
			mustInit(t, testInitOptions(dir))
			os.Remove(CertPath(filepath.Join(dir, EtcdDir), EtcdCAName))
			os.Remove(KeyPath(filepath.Join(dir, EtcdDir), EtcdCAName))
		}, filepath.Join(EtcdDir, "server.crt") + " exists but the CA"},
		{"CA missing", func(t *testing.T, dir string) {
			mustInit(t, testInitOptions(dir))
			os.Remove(CertPath(dir, "ca"))
			os.Remove(KeyPath(dir, "ca"))
		}, "but the CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.prepare(t, dir)
			before := snapshot(t, dir)
			_, err := Init(testInitOptions(dir))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Init error %v, want one containing %q", err, tt.wantErr)
			}
			after := snapshot(t, dir)
			if len(after) != len(before) {
				t.Errorf("Init wrote files despite the error: %d → %d entries", len(before), len(after))
			}
		})
	}
}

func TestInitRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	for name, opts := range map[string]InitOptions{
		"no dir":         {},
		"bad node":       {Dir: dir, Nodes: []Node{{Name: "Node_1"}}},
		"duplicate node": {Dir: dir, Nodes: []Node{{Name: "n"}, {Name: "n"}}},
		"bad SAN":        {Dir: dir, APIServerSANs: []string{"not a name"}},
		"bad etcd SAN":   {Dir: dir, EtcdSANs: []string{"not a name"}},
	} {
		if _, err := Init(opts); err == nil {
			t.Errorf("%s: Init succeeded", name)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed Init calls left %d files", len(entries))
	}
}

func TestIssueInDir(t *testing.T) {
	dir := t.TempDir()
	mustInit(t, InitOptions{Dir: dir, Hostname: "h"})
	kp, err := IssueInDir(dir, "alice", CertSpec{CommonName: "alice", Organization: []string{"dev", "ops"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadKeyPair(dir, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Cert.Equal(kp.Cert) || loaded.Cert.Subject.CommonName != "alice" || !slices.Equal(loaded.Cert.Subject.Organization, []string{"dev", "ops"}) {
		t.Errorf("issued %v", loaded.Cert.Subject)
	}
	if _, err := IssueInDir(dir, "alice", CertSpec{CommonName: "alice", Client: true}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("re-issue: %v, want ErrExist", err)
	}
	for _, name := range []string{"ca", "../x", "", ".hidden", "a/b"} {
		if _, err := IssueInDir(dir, name, CertSpec{CommonName: "x", Client: true}); err == nil {
			t.Errorf("IssueInDir(%q) succeeded", name)
		}
	}
	if _, err := IssueInDir(t.TempDir(), "bob", CertSpec{CommonName: "bob", Client: true}); err == nil {
		t.Error("IssueInDir without a CA succeeded")
	}
}

func TestParseNode(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		ips     []string
		wantErr bool
	}{
		{in: "node1", name: "node1"},
		{in: "node1=10.0.0.1", name: "node1", ips: []string{"10.0.0.1"}},
		{in: "w.example=10.0.0.1, fd00::2", name: "w.example", ips: []string{"10.0.0.1", "fd00::2"}},
		{in: "Node1", wantErr: true},
		{in: "", wantErr: true},
		{in: "node1=", wantErr: true},
		{in: "node1=host.example", wantErr: true},
	}
	for _, tt := range tests {
		n, err := ParseNode(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseNode(%q) error %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		var ips []string
		for _, ip := range n.IPs {
			ips = append(ips, ip.String())
		}
		if n.Name != tt.name || !slices.Equal(ips, tt.ips) {
			t.Errorf("ParseNode(%q) = %q %q, want %q %q", tt.in, n.Name, ips, tt.name, tt.ips)
		}
	}
}

func TestParseSANs(t *testing.T) {
	dns, ips, err := ParseSANs([]string{"a.example", "10.0.0.1", "::1", "*.b.example", "a.example", "10.0.0.1", "my_host"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dns, []string{"a.example", "*.b.example", "my_host"}) {
		t.Errorf("dns %q", dns)
	}
	if len(ips) != 2 || ips[0].String() != "10.0.0.1" || ips[1].String() != "::1" {
		t.Errorf("ips %v", ips)
	}
	for _, bad := range []string{"", "a b", "10.0.0.0/8", "http://x", "a..b", "-a"} {
		if _, _, err := ParseSANs([]string{bad}); err == nil {
			t.Errorf("ParseSANs(%q) succeeded", bad)
		}
	}
}
