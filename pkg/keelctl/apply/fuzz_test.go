package apply

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzThreeWay merges three arbitrary JSON objects (the last-applied
// manifest, the new one and the live object) as `keelctl apply` does. It
// must not panic or modify its inputs, and applying the same manifest
// again to the result must change nothing.
func FuzzThreeWay(f *testing.F) {
	f.Add(`{"spec":{"a":1,"b":2}}`, `{"spec":{"a":5}}`, `{"spec":{"a":1,"b":2,"c":3}}`)
	f.Add(`{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x","ports":[{"containerPort":80}]}]}}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"y"},{"name":"b"}]}}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x","ports":[{"containerPort":80}]},{"name":"side"}]}}}}`)
	f.Add(`{"metadata":{"finalizers":["a","b"]},"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}}`,
		`{"metadata":{"finalizers":["b"]},"spec":{"strategy":{"type":"Recreate"}}}`,
		`{"metadata":{"finalizers":["a","b","c"]},"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}}`)
	f.Fuzz(func(t *testing.T, lastJSON, nextJSON, liveJSON string) {
		if len(lastJSON)+len(nextJSON)+len(liveJSON) > 64<<10 {
			t.Skip("inputs over 64 KiB are left out: the merge is linear in its input, and large ones only slow the fuzzer")
		}
		var in [3]map[string]any
		for i, s := range []string{lastJSON, nextJSON, liveJSON} {
			if json.Unmarshal([]byte(s), &in[i]) != nil || in[i] == nil {
				return
			}
		}
		var before [3]map[string]any
		for i, s := range []string{lastJSON, nextJSON, liveJSON} {
			json.Unmarshal([]byte(s), &before[i])
		}
		merged := threeWay(in[0], in[1], in[2])
		if !reflect.DeepEqual(in, before) {
			t.Fatalf("threeWay modified its inputs")
		}
		if again := threeWay(in[1], in[1], merged); !reflect.DeepEqual(again, merged) {
			a, _ := json.Marshal(again)
			m, _ := json.Marshal(merged)
			t.Fatalf("applying the same manifest again changed\n%s\nto\n%s", m, a)
		}
	})
}
