package apply

import (
	"fmt"

	"keel.dev/keel/pkg/api"
)

// This file is keelctl's client-side three-way merge, the one kubectl
// apply performs with the last-applied-configuration annotation. Objects
// are in the generic form of manifest.ToMap (maps, lists, scalars).
//
// threeWay(last, next, live) starts from live (the object on the server)
// and applies the change from last (the manifest applied before) to next
// (the manifest applied now):
//
//   - a field in next is set to next's value (maps merge recursively, so
//     fields of live that next does not mention are kept);
//   - a field in last but not in next was removed from the file: it is
//     removed from live;
//   - a field only in live was set by someone else (a controller, a
//     defaulting apiserver, keelctl scale or label): it is kept.
//
// Lists are replaced by next's, except the lists Kubernetes merges by a key
// (containers and volumes by name, container ports by containerPort and
// protocol, service ports by port and protocol, …): their items are matched
// by key and merged like maps, items removed from the file are removed, and
// items others added are kept after the file's. Metadata finalizers merge
// as a set. A deployment strategy and each volume keep only the fields the
// file names once the file sets them ("retainKeys"), so switching a
// strategy type or a volume source does not keep the old one's fields.
//
// The inputs are not modified; the result shares unchanged values with
// them.
func threeWay(last, next, live map[string]any) map[string]any {
	return mergeMaps(nil, last, next, live)
}

func mergeMaps(path []string, last, next, live map[string]any) map[string]any {
	out := make(map[string]any, len(live)+len(next))
	for k, v := range live {
		out[k] = v
	}
	for k := range last {
		if _, ok := next[k]; !ok {
			delete(out, k)
		}
	}
	if retainKeys(path) {
		for k := range out {
			if _, ok := next[k]; !ok {
				delete(out, k)
			}
		}
	}
	for k, nv := range next {
		cur, inLive := out[k]
		child := append(path[:len(path):len(path)], k)
		switch n := nv.(type) {
		case map[string]any:
			cm, ok := cur.(map[string]any)
			if !inLive || !ok {
				out[k] = n
				continue
			}
			lm, _ := last[k].(map[string]any)
			out[k] = mergeMaps(child, lm, n, cm)
		case []any:
			cl, ok := cur.([]any)
			if !inLive || !ok {
				out[k] = n
				continue
			}
			ll, _ := last[k].([]any)
			out[k] = mergeLists(child, ll, n, cl)
		default:
			out[k] = nv
		}
	}
	return out
}

// retainKeys reports whether the map at path keeps only the keys the file
// names: a deployment's spec.strategy and each pod volume.
func retainKeys(path []string) bool {
	n := len(path)
	switch {
	case n == 2 && path[0] == "spec" && path[1] == "strategy":
		return true
	case n >= 2 && path[n-2] == "volumes" && path[n-1] == "[]":
		return true
	}
	return false
}

// listKey returns the function giving a list item's merge key, or nil for
// lists that next replaces whole.
func listKey(path []string) func(map[string]any) (string, bool) {
	n := len(path)
	field := path[n-1]
	byField := func(name string) func(map[string]any) (string, bool) {
		return func(m map[string]any) (string, bool) {
			v, ok := m[name]
			if !ok {
				return "", false
			}
			return fmt.Sprint(v), true
		}
	}
	withProtocol := func(portField string) func(map[string]any) (string, bool) {
		return func(m map[string]any) (string, bool) {
			v, ok := m[portField]
			if !ok {
				return "", false
			}
			proto, _ := m["protocol"].(string)
			if proto == "" {
				proto = api.ProtocolTCP // the default, which live items carry
			}
			return fmt.Sprintf("%v/%s", v, proto), true
		}
	}
	switch field {
	case "containers", "initContainers", "ephemeralContainers", "env", "volumes", "imagePullSecrets":
		return byField("name")
	case "volumeMounts":
		return byField("mountPath")
	case "hostAliases":
		return byField("ip")
	case "ownerReferences":
		return byField("uid")
	case "topologySpreadConstraints":
		return byField("topologyKey")
	case "ports":
		if n == 2 && path[0] == "spec" { // a Service's
			return withProtocol("port")
		}
		if n >= 3 && path[n-2] == "[]" && (path[n-3] == "containers" || path[n-3] == "initContainers") {
			return withProtocol("containerPort")
		}
	}
	return nil
}

// isSetList reports whether the list at path merges as a set of scalars.
func isSetList(path []string) bool {
	return len(path) == 2 && path[0] == "metadata" && path[1] == "finalizers"
}

func mergeLists(path []string, last, next, live []any) []any {
	if isSetList(path) {
		return mergeSets(last, next, live)
	}
	key := listKey(path)
	if key == nil {
		return next
	}
	index := func(l []any) (map[string]int, bool) {
		idx := make(map[string]int, len(l))
		for i, it := range l {
			m, ok := it.(map[string]any)
			if !ok {
				return nil, false
			}
			k, ok := key(m)
			if !ok {
				return nil, false
			}
			if _, dup := idx[k]; dup {
				return nil, false
			}
			idx[k] = i
		}
		return idx, true
	}
	liveIdx, ok1 := index(live)
	nextIdx, ok2 := index(next)
	if !ok1 || !ok2 {
		return next // not keyed after all: replace
	}
	lastIdx, ok := index(last)
	if !ok {
		lastIdx = nil
	}
	itemPath := append(path[:len(path):len(path)], "[]")
	out := make([]any, 0, len(next)+len(live))
	for _, it := range next {
		m := it.(map[string]any)
		k, _ := key(m)
		i, inLive := liveIdx[k]
		if !inLive {
			out = append(out, m)
			continue
		}
		var lm map[string]any
		if j, ok := lastIdx[k]; ok {
			lm = last[j].(map[string]any)
		}
		out = append(out, mergeMaps(itemPath, lm, m, live[i].(map[string]any)))
	}
	for _, it := range live {
		k, _ := key(it.(map[string]any))
		if _, inNext := nextIdx[k]; inNext {
			continue
		}
		if _, inLast := lastIdx[k]; inLast {
			continue // removed from the file
		}
		out = append(out, it) // added by someone else
	}
	return out
}

// mergeSets merges lists of scalars as sets: live's items, less those the
// file dropped, plus the file's new ones.
func mergeSets(last, next, live []any) []any {
	inNext := map[any]bool{}
	for _, v := range next {
		inNext[v] = true
	}
	dropped := map[any]bool{}
	for _, v := range last {
		if !inNext[v] {
			dropped[v] = true
		}
	}
	var out []any
	have := map[any]bool{}
	for _, v := range live {
		if !dropped[v] && !have[v] {
			out = append(out, v)
			have[v] = true
		}
	}
	for _, v := range next {
		if !have[v] {
			out = append(out, v)
			have[v] = true
		}
	}
	return out
}

// setAnnotation returns obj with metadata.annotations[key] = value, copying
// the maps it changes (obj is not modified).
func setAnnotation(obj map[string]any, key, value string) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	md := map[string]any{}
	if m, ok := obj["metadata"].(map[string]any); ok {
		for k, v := range m {
			md[k] = v
		}
	}
	ann := map[string]any{}
	if a, ok := md["annotations"].(map[string]any); ok {
		for k, v := range a {
			ann[k] = v
		}
	}
	ann[key] = value
	md["annotations"] = ann
	out["metadata"] = md
	return out
}

// setResourceVersion sets metadata.resourceVersion in the generic form.
func setResourceVersion(obj map[string]any, rv string) map[string]any {
	md, _ := obj["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		obj["metadata"] = md
	}
	md["resourceVersion"] = rv
	return obj
}
