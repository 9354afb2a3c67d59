package app

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/etcdserver"
	"keel.dev/keel/pkg/pki"
)

func TestKubeletClientFlags(t *testing.T) {
	dir := t.TempDir()
	if _, err := pki.Init(pki.InitOptions{Dir: dir, Hostname: "localhost"}); err != nil {
		t.Fatal(err)
	}
	cert, key := pki.CertPath(dir, pki.APIServerKubeletClientName), pki.KeyPath(dir, pki.APIServerKubeletClientName)
	ca := pki.CertPath(dir, pki.CAName)

	if tc, err := kubeletClientTLS(&options{}); tc != nil || err != nil {
		t.Errorf("no flags: %v, %v; want no TLS and no error", tc, err)
	}
	for _, tt := range []struct {
		name string
		o    options
		ok   bool
		msg  string
	}{
		{"all three", options{kubeletCert: cert, kubeletKey: key, kubeletCA: ca}, true, ""},
		{"CA from --client-ca-file", options{kubeletCert: cert, kubeletKey: key, clientCA: ca}, true, ""},
		{"cert without key", options{kubeletCert: cert, kubeletCA: ca}, false, "go together"},
		{"no CA", options{kubeletCert: cert, kubeletKey: key}, false, "--kubelet-certificate-authority"},
		{"missing file", options{kubeletCert: filepath.Join(dir, "nope.crt"), kubeletKey: key, kubeletCA: ca}, false, "kubelet client certificate"},
	} {
		tc, err := kubeletClientTLS(&tt.o)
		if tt.ok {
			if err != nil || tc == nil || len(tc.Certificates) != 1 || tc.RootCAs == nil {
				t.Errorf("%s: %v, %v", tt.name, tc, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.msg)
		}
	}
}

func TestServiceAccountSigningKeyFlags(t *testing.T) {
	dir := t.TempDir()
	if _, err := pki.Init(pki.InitOptions{Dir: dir, Hostname: "localhost"}); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, pki.ServiceAccountKeyFile)
	if k, err := serviceAccountSigningKey(&options{}); k != nil || err != nil {
		t.Errorf("no flags: %v, %v; want no key and no error", k, err)
	}
	if k, err := serviceAccountSigningKey(&options{saSigningKey: key, saMaxExpiration: 24 * time.Hour}); k == nil || err != nil {
		t.Errorf("sa.key with a day's cap: %v, %v; want the key", k, err)
	}
	for _, tt := range []struct {
		name string
		o    options
		msg  string
	}{
		{"missing file", options{saSigningKey: filepath.Join(dir, "nope.key")}, "--service-account-signing-key-file"},
		{"a public key", options{saSigningKey: filepath.Join(dir, pki.ServiceAccountPublicKeyFile)}, "--service-account-signing-key-file"},
		{"cap below an hour", options{saSigningKey: key, saMaxExpiration: 10 * time.Minute}, "--service-account-max-token-expiration"},
	} {
		if _, err := serviceAccountSigningKey(&tt.o); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.msg)
		}
	}
}

func TestEtcdClientFlags(t *testing.T) {
	dir := t.TempDir()
	if _, err := pki.Init(pki.InitOptions{Dir: dir, Hostname: "localhost"}); err != nil {
		t.Fatal(err)
	}
	ca, cert, key := pki.CertPath(dir, pki.CAName), pki.CertPath(dir, pki.AdminName), pki.KeyPath(dir, pki.AdminName)
	https := []string{"https://127.0.0.1:2379", "https://10.0.0.2:2379"}
	http := []string{"http://127.0.0.1:2379"}

	for _, o := range []options{{}, {etcdServers: http}} {
		if tc, err := etcdClientTLS(&o); tc != nil || err != nil {
			t.Errorf("%v: %v, %v; want no TLS and no error", o.etcdServers, tc, err)
		}
	}
	tc, err := etcdClientTLS(&options{etcdServers: https, etcdCAFile: ca, etcdCertFile: cert, etcdKeyFile: key})
	if err != nil || tc == nil || len(tc.Certificates) != 1 || tc.RootCAs == nil {
		t.Errorf("https with all three files: %v, %v; want a client certificate and the CA", tc, err)
	}

	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		o    options
		msg  string
	}{
		{"https without a CA", options{etcdServers: https, etcdCertFile: cert, etcdKeyFile: key}, "need --etcd-cafile"},
		{"https without a certificate", options{etcdServers: https, etcdCAFile: ca, etcdKeyFile: key}, "need --etcd-certfile"},
		{"https without a key", options{etcdServers: https, etcdCAFile: ca, etcdCertFile: cert}, "need --etcd-keyfile"},
		{"missing CA file", options{etcdServers: https, etcdCAFile: filepath.Join(dir, "nope.crt"), etcdCertFile: cert, etcdKeyFile: key}, "--etcd-cafile: open " + filepath.Join(dir, "nope.crt")},
		{"CA not PEM", options{etcdServers: https, etcdCAFile: notPEM, etcdCertFile: cert, etcdKeyFile: key}, "--etcd-cafile: " + notPEM},
		{"missing certificate", options{etcdServers: https, etcdCAFile: ca, etcdCertFile: filepath.Join(dir, "nope.crt"), etcdKeyFile: key}, "--etcd-certfile, --etcd-keyfile: reading certificate: open " + filepath.Join(dir, "nope.crt")},
		{"key of another certificate", options{etcdServers: https, etcdCAFile: ca, etcdCertFile: cert, etcdKeyFile: pki.KeyPath(dir, pki.ProxyName)}, "--etcd-certfile, --etcd-keyfile"},
		{"files with http servers", options{etcdServers: http, etcdCAFile: ca, etcdCertFile: cert, etcdKeyFile: key}, "need https:// --etcd-servers"},
		{"files without servers", options{etcdCAFile: ca}, "--etcd-servers"},
		{"mixed schemes", options{etcdServers: append(slices.Clone(https), http...), etcdCAFile: ca, etcdCertFile: cert, etcdKeyFile: key}, "mixes https:// and http://"},
		{"no scheme", options{etcdServers: []string{"127.0.0.1:2379"}}, `--etcd-servers "127.0.0.1:2379"`},
	} {
		if _, err := etcdClientTLS(&tt.o); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.msg)
		}
	}
}

// TestEventTTLFlag: a bad --event-ttl stops the start with an error naming
// the flag, before anything is written.
func TestEventTTLFlag(t *testing.T) {
	for _, ttl := range []string{"-1s", "0"} {
		dataDir := filepath.Join(t.TempDir(), "etcd")
		cmd := NewCommand()
		cmd.SetArgs([]string{"--event-ttl=" + ttl, "--secure-address=", "--insecure-address=127.0.0.1:0", "--http-address=", "--data-dir=" + dataDir})
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), "--event-ttl must be greater than 0") {
			t.Errorf("--event-ttl=%s: %v, want an error naming the flag", ttl, err)
		}
		if _, serr := os.Stat(dataDir); !os.IsNotExist(serr) {
			t.Errorf("--event-ttl=%s: the data directory was made", ttl)
		}
	}
}

func TestEmbeddedEtcdFlags(t *testing.T) {
	dir := t.TempDir()
	if _, err := pki.Init(pki.InitOptions{Dir: dir, Hostname: "localhost"}); err != nil {
		t.Fatal(err)
	}
	good := etcdserver.ServingFiles(dir)
	const https = "https://127.0.0.1:2379"
	for _, o := range []options{{}, {etcdClientURL: "unix:///run/etcd.sock"}, {etcdClientURL: https, etcdServingTLS: good}} {
		if err := checkEmbeddedEtcd(&o); err != nil {
			t.Errorf("%q: %v", o.etcdClientURL, err)
		}
	}
	noKey, badCA, wrongKey := good, good, good
	noKey.KeyFile = ""
	badCA.TrustedCAFile = filepath.Join(dir, "nope.crt")
	wrongKey.KeyFile = pki.KeyPath(dir, pki.AdminName)
	for _, tt := range []struct {
		name string
		o    options
		msg  string
	}{
		{"https without files", options{etcdClientURL: https}, "needs --embedded-etcd-cert-file"},
		{"https without a key", options{etcdClientURL: https, etcdServingTLS: noKey}, "needs --embedded-etcd-key-file"},
		{"missing CA file", options{etcdClientURL: https, etcdServingTLS: badCA}, "--embedded-etcd-trusted-ca-file: open " + badCA.TrustedCAFile},
		{"key of another certificate", options{etcdClientURL: https, etcdServingTLS: wrongKey}, "--embedded-etcd-cert-file, --embedded-etcd-key-file"},
		{"files with the default socket", options{etcdServingTLS: good}, "need an https:// --embedded-etcd-client-url"},
		{"files with external etcd", options{etcdServers: []string{"https://10.0.0.1:2379"}, etcdServingTLS: good}, "does not run with --etcd-servers"},
	} {
		if err := checkEmbeddedEtcd(&tt.o); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.msg)
		}
	}
}
