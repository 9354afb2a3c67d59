package apiresources

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"keel.dev/keel/pkg/client/config"
	"keel.dev/keel/pkg/keelctl/cmdutil"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	// No cluster to list custom resources from: a warning on stderr.
	t.Setenv(config.EnvVar, filepath.Join(t.TempDir(), "no-config"))
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	var out, errOut bytes.Buffer
	cmd := NewAPIResourcesCommand(&cmdutil.CLI{Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return out.String(), err
}

func TestAPIResources(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		first string   // the first line, spaces collapsed
		has   []string // lines (spaces collapsed) that must be there
		lacks []string // names that must not be listed
	}{
		{"default", nil, "NAME SHORTNAMES APIVERSION NAMESPACED KIND",
			[]string{"pods po v1 true Pod", "deployments deploy apps/v1 true Deployment", "nodes no v1 false Node"}, nil},
		{"wide", []string{"-o", "wide", "--api-group", "apps"}, "NAME SHORTNAMES APIVERSION NAMESPACED KIND VERBS CATEGORIES",
			[]string{"deployments deploy apps/v1 true Deployment [create delete get list update watch] all"}, []string{"pods"}},
		{"core group by empty name", []string{"--api-group="}, "NAME SHORTNAMES APIVERSION NAMESPACED KIND",
			[]string{"pods po v1 true Pod"}, []string{"deployments"}},
		{"namespaced bare flag", []string{"--namespaced", "--no-headers"}, "", []string{"pods po v1 true Pod"}, []string{"nodes", "namespaces"}},
		{"cluster-scoped names", []string{"--namespaced=false", "-o", "name"}, "namespaces", []string{"nodes"}, []string{"pods"}},
		{"sort by kind", []string{"--sort-by=kind", "--no-headers"}, "", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
				lines = append(lines, strings.Join(strings.Fields(l), " "))
			}
			if tc.first != "" && lines[0] != tc.first {
				t.Errorf("first line %q, want %q", lines[0], tc.first)
			}
			for _, h := range tc.has {
				if !strings.Contains(strings.Join(lines, "\n")+"\n", h+"\n") {
					t.Errorf("no line %q in:\n%s", h, out)
				}
			}
			for _, l := range lines {
				for _, name := range tc.lacks {
					if strings.HasPrefix(l, name+" ") || l == name {
						t.Errorf("%q listed:\n%s", name, out)
					}
				}
			}
			if tc.name == "sort by kind" {
				for i := 1; i < len(lines); i++ {
					if a, b := strings.Fields(lines[i-1]), strings.Fields(lines[i]); a[len(a)-1] > b[len(b)-1] {
						t.Errorf("not sorted by kind: %q before %q", lines[i-1], lines[i])
					}
				}
			}
		})
	}
	if _, err := run(t, "--sort-by=age"); err == nil || !strings.Contains(err.Error(), "--sort-by accepts only name or kind") {
		t.Errorf("--sort-by=age: %v", err)
	}
}
