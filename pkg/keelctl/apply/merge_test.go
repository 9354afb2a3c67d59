package apply

import (
	"encoding/json"
	"testing"
)

func TestThreeWayMerge(t *testing.T) {
	obj := func(s string) map[string]any {
		t.Helper()
		m := map[string]any{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		name             string
		last, next, live string
		want             string
	}{
		{"set, keep, remove",
			`{"spec":{"a":1,"b":2}}`, `{"spec":{"a":5}}`, `{"spec":{"a":1,"b":2,"c":3}}`,
			`{"spec":{"a":5,"c":3}}`},
		{"no last: nothing removed",
			`{}`, `{"spec":{"a":5}}`, `{"spec":{"a":1,"b":2}}`,
			`{"spec":{"a":5,"b":2}}`},
		{"containers merge by name",
			`{"spec":{"containers":[{"name":"a","image":"x"}]}}`,
			`{"spec":{"containers":[{"name":"a","image":"y"}]}}`,
			`{"spec":{"containers":[{"name":"a","image":"x","imagePullPolicy":"Always"},{"name":"sidecar","image":"s"}]}}`,
			`{"spec":{"containers":[{"name":"a","image":"y","imagePullPolicy":"Always"},{"name":"sidecar","image":"s"}]}}`},
		{"container removed from the file",
			`{"spec":{"containers":[{"name":"a"},{"name":"b"}]}}`,
			`{"spec":{"containers":[{"name":"a"}]}}`,
			`{"spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"c"}]}}`,
			`{"spec":{"containers":[{"name":"a"},{"name":"c"}]}}`},
		{"service ports by port and protocol",
			`{"spec":{"ports":[{"port":53,"protocol":"UDP"},{"port":53}]}}`,
			`{"spec":{"ports":[{"port":53,"protocol":"UDP","name":"dns"}]}}`,
			`{"spec":{"ports":[{"port":53,"protocol":"UDP","nodePort":30053},{"port":53,"protocol":"TCP"}]}}`,
			`{"spec":{"ports":[{"port":53,"protocol":"UDP","nodePort":30053,"name":"dns"}]}}`},
		{"other lists are replaced",
			`{"spec":{"args":["a","b"]}}`, `{"spec":{"args":["c"]}}`, `{"spec":{"args":["a","b","x"]}}`,
			`{"spec":{"args":["c"]}}`},
		{"finalizers merge as a set",
			`{"metadata":{"finalizers":["a"]}}`, `{"metadata":{"finalizers":["b"]}}`, `{"metadata":{"finalizers":["a","ctrl"]}}`,
			`{"metadata":{"finalizers":["ctrl","b"]}}`},
		{"strategy keeps only the file's keys",
			`{"spec":{"strategy":{"type":"RollingUpdate"}}}`, `{"spec":{"strategy":{"type":"Recreate"}}}`,
			`{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%"}}}}`,
			`{"spec":{"strategy":{"type":"Recreate"}}}`},
		{"volume source switched",
			`{"spec":{"volumes":[{"name":"v","configMap":{"name":"c"}}]}}`,
			`{"spec":{"volumes":[{"name":"v","secret":{"secretName":"s"}}]}}`,
			`{"spec":{"volumes":[{"name":"v","configMap":{"name":"c","defaultMode":420}}]}}`,
			`{"spec":{"volumes":[{"name":"v","secret":{"secretName":"s"}}]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			last, next, live := obj(tc.last), obj(tc.next), obj(tc.live)
			liveCopy := obj(tc.live)
			got := threeWay(last, next, live)
			if !jsonEqual(t, got, obj(tc.want)) {
				t.Errorf("got %s, want %s", jsonString(t, got), tc.want)
			}
			if !jsonEqual(t, live, liveCopy) {
				t.Errorf("live modified: %s", jsonString(t, live))
			}
		})
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jsonEqual(t *testing.T, a, b any) bool { return jsonString(t, a) == jsonString(t, b) }
