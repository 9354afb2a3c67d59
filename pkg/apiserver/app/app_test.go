package app

import (
	"path/filepath"
	"strings"
	"testing"

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
