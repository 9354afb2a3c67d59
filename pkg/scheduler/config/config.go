// Package config reads the scheduler's plugin configuration file
// (keel-scheduler --plugin-config): which plugins run, their score
// weights and their arguments. Without a file the default plugin set
// runs with its default weights and arguments.
//
// Example:
//
//	# Pack pods onto few nodes instead of spreading them.
//	plugins:
//	  LeastAllocated: {enabled: false}
//	  MostAllocated: {enabled: true, weight: 2}
//	  NodePorts: {enabled: false}
//	pluginArgs:
//	  MostAllocated:
//	    resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}]
//	  InterPodAffinity:
//	    hardPodAffinityWeight: 5
//
// Loading is strict: an unknown key, an unknown plugin name or bad
// arguments stop the scheduler with an error naming the file and the key.
package config

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"sigs.k8s.io/yaml"

	"keel.dev/keel/pkg/scheduler/framework"
)

// File is the plugin configuration.
type File struct {
	// Plugins change the default plugin set, per plugin name.
	Plugins map[string]PluginSetting `json:"plugins,omitempty"`
	// PluginArgs are each plugin's arguments (see the plugin's *Args
	// type in package plugins).
	PluginArgs map[string]json.RawMessage `json:"pluginArgs,omitempty"`
}

// PluginSetting enables or disables a plugin and sets its score weight.
type PluginSetting struct {
	Enabled *bool  `json:"enabled,omitempty"`
	Weight  *int32 `json:"weight,omitempty"`
}

// Load reads the file at path ("" for no file: the defaults).
func Load(path string) (*File, error) {
	if path == "" {
		return &File{}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plugin config: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("plugin config %s: %w", path, err)
	}
	return f, nil
}

// Parse decodes a plugin configuration strictly.
func Parse(data []byte) (*File, error) {
	f := &File{}
	if err := yaml.UnmarshalStrict(data, f); err != nil {
		return nil, err
	}
	return f, nil
}

// Resolve applies the file to the default plugin set (in its order;
// optional plugins enabled by the file follow, in name order) and returns
// the plugins to run with their weights and arguments.
func (f *File) Resolve(defaults, optional []framework.PluginConfig) ([]framework.PluginConfig, error) {
	known := map[string]framework.PluginConfig{}
	enabled := map[string]bool{}
	var order []string
	for _, p := range defaults {
		known[p.Name] = p
		enabled[p.Name] = true
		order = append(order, p.Name)
	}
	var extra []string
	for _, p := range optional {
		known[p.Name] = p
		extra = append(extra, p.Name)
	}
	sort.Strings(extra)
	order = append(order, extra...)

	var problems []string
	names := make([]string, 0, len(f.Plugins))
	for n := range f.Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		s := f.Plugins[name]
		p, ok := known[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("plugins.%s: unknown plugin", name))
			continue
		}
		if s.Enabled != nil {
			enabled[name] = *s.Enabled
		}
		if s.Weight != nil {
			if *s.Weight < 1 || *s.Weight > 100 {
				problems = append(problems, fmt.Sprintf("plugins.%s.weight: %d is not between 1 and 100", name, *s.Weight))
			}
			p.Weight = *s.Weight
			known[name] = p
		}
	}
	for name := range f.PluginArgs {
		if _, ok := known[name]; !ok {
			problems = append(problems, fmt.Sprintf("pluginArgs.%s: unknown plugin", name))
		} else if !enabled[name] {
			problems = append(problems, fmt.Sprintf("pluginArgs.%s: the plugin is not enabled", name))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("%s", join(problems))
	}
	var out []framework.PluginConfig
	for _, name := range order {
		if !enabled[name] {
			continue
		}
		p := known[name]
		if a, ok := f.PluginArgs[name]; ok {
			p.Args = a
		}
		out = append(out, p)
	}
	return out, nil
}

func join(s []string) string {
	out := s[0]
	for _, x := range s[1:] {
		out += "; " + x
	}
	return out
}
