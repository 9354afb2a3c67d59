package config_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/scheduler/config"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/scheduler/plugins"
)

func names(ps []framework.PluginConfig) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}

func TestDefaultsNeedNoFile(t *testing.T) {
	f, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := f.Resolve(plugins.DefaultPlugins(), plugins.OptionalPlugins())
	if err != nil {
		t.Fatal(err)
	}
	if names(ps) != names(plugins.DefaultPlugins()) {
		t.Errorf("defaults %s", names(ps))
	}
}

func TestResolve(t *testing.T) {
	f, err := config.Parse([]byte(`
plugins:
  LeastAllocated: {enabled: false}
  MostAllocated: {enabled: true, weight: 5}
  TaintToleration: {weight: 7}
pluginArgs:
  MostAllocated:
    resources: [{name: cpu, weight: 2}]
`))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := f.Resolve(plugins.DefaultPlugins(), plugins.OptionalPlugins())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]framework.PluginConfig{}
	for _, p := range ps {
		got[p.Name] = p
	}
	if _, ok := got["LeastAllocated"]; ok {
		t.Error("LeastAllocated still enabled")
	}
	if p := got["MostAllocated"]; p.Weight != 5 || !strings.Contains(string(p.Args), `"weight":2`) {
		t.Errorf("MostAllocated %+v (args %s)", p, p.Args)
	}
	if got["TaintToleration"].Weight != 7 {
		t.Errorf("TaintToleration weight %d", got["TaintToleration"].Weight)
	}
	if ps[len(ps)-1].Name != "MostAllocated" {
		t.Errorf("optional plugins come last: %s", names(ps))
	}
	// The result builds a framework.
	if _, err := framework.New(framework.Options{Registry: plugins.NewRegistry(plugins.Deps{Bind: func() plugins.BindFunc { return nil }(), Storage: &plugins.StaticStorage{},
		UpdateClaim: func(context.Context, *corev1.PersistentVolumeClaim) error { return nil }}),
		Plugins: ps, Snapshot: framework.NewStaticSnapshot(nil, nil)}); err == nil || !strings.Contains(err.Error(), "no bind function") {
		t.Errorf("framework.New: %v", err)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"plugins:\n  NoSuchPlugin: {enabled: true}\n", "plugins.NoSuchPlugin: unknown plugin"},
		{"plugins:\n  NodePorts: {enabeld: true}\n", "enabeld"},
		{"plugins:\n  LeastAllocated: {weight: 0}\n", "plugins.LeastAllocated.weight: 0 is not between 1 and 100"},
		{"pluginArgs:\n  MostAllocated: {}\n", "pluginArgs.MostAllocated: the plugin is not enabled"},
		{"pluginArgs:\n  Nope: {}\n", "pluginArgs.Nope: unknown plugin"},
		{"plugin: {}\n", `unknown field "plugin"`},
	} {
		f, err := config.Parse([]byte(tc.yaml))
		if err == nil {
			_, err = f.Resolve(plugins.DefaultPlugins(), plugins.OptionalPlugins())
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte("nope: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("load error %v does not name the file", err)
	}
}
