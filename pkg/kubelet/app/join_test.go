package app

import (
	"strings"
	"testing"
)

// TestValidateJoin: the join flags go together as they must, and each
// misuse is named.
func TestValidateJoin(t *testing.T) {
	hash := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		o    options
		want string
	}{
		{"token", options{token: "abcdef.0123456789abcdef", caCertHash: hash, servers: []string{"10.0.0.1:6443"}}, ""},
		{"bootstrap kubeconfig", options{bootstrapKubeconfig: "/etc/keel/bootstrap.conf"}, ""},
		{"no join", options{kubeconfig: "/etc/keel/kubelet.conf"}, ""},
		{"both", options{token: "abcdef.0123456789abcdef", caCertHash: hash, servers: []string{"x:1"}, bootstrapKubeconfig: "b"}, "exclude each other"},
		{"with kubeconfig", options{bootstrapKubeconfig: "b", kubeconfig: "k"}, "exclude --kubeconfig"},
		{"with hollow nodes", options{bootstrapKubeconfig: "b", hollowNodes: 3}, "--hollow-nodes"},
		{"token without server", options{token: "abcdef.0123456789abcdef", caCertHash: hash}, "--token needs --server"},
		{"token without hash", options{token: "abcdef.0123456789abcdef", servers: []string{"x:1"}}, "--token needs --ca-cert-hash"},
		{"hash without token", options{caCertHash: hash, kubeconfig: "k"}, "--ca-cert-hash goes with --token"},
	} {
		got := strings.Join(tc.o.validateJoin(), "\n")
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%s: problems %q, want %q", tc.name, got, tc.want)
		}
	}
}
