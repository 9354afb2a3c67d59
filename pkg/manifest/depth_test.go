package manifest

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// nested builds documents of an exact nesting depth (the top-level object or
// list counting as 1), and says where the collection one level too deep
// opens in the document of depth maxDepth+1.
var nested = []struct {
	name string
	gen  func(depth int) string
	// line and column of the (maxDepth+1)th collection
	line, column int
}{{
	name:   "JSON lists in an object",
	gen:    func(d int) string { return `{"a":` + strings.Repeat("[", d-1) + strings.Repeat("]", d-1) + "}" },
	line:   1,
	column: len(`{"a":`) + maxDepth,
}, {
	name:   "JSON objects",
	gen:    func(d int) string { return strings.Repeat(`{"a":`, d) + "1" + strings.Repeat("}", d) },
	line:   1,
	column: len(`{"a":`)*maxDepth + 1,
}, {
	name:   "YAML flow sequences",
	gen:    func(d int) string { return strings.Repeat("[", d) + strings.Repeat("]", d) },
	line:   1,
	column: maxDepth + 1,
}, {
	name:   "YAML flow mappings",
	gen:    func(d int) string { return strings.Repeat("{a: ", d) + "1" + strings.Repeat("}", d) },
	line:   1,
	column: len("{a: ")*maxDepth + 1,
}, {
	name:   "YAML flow sequences over lines",
	gen:    func(d int) string { return "a:\n" + strings.Repeat("  [\n", d-1) + strings.Repeat("]", d-1) + "\n" },
	line:   1 + maxDepth,
	column: 3,
}, {
	name: "YAML block mappings",
	gen: func(d int) string {
		var b strings.Builder
		for i := 0; i < d-1; i++ {
			fmt.Fprintf(&b, "%sa:\n", strings.Repeat(" ", i))
		}
		fmt.Fprintf(&b, "%sa: 1\n", strings.Repeat(" ", d-1))
		return b.String()
	},
	line:   maxDepth + 1,
	column: maxDepth + 1,
}, {
	name:   "YAML compact block sequences",
	gen:    func(d int) string { return strings.Repeat("- ", d) + "x\n" },
	line:   1,
	column: 2*maxDepth + 1,
}, {
	name: "YAML block sequences and mappings",
	gen: func(d int) string {
		var b strings.Builder
		for i := 0; i < d/2; i++ {
			fmt.Fprintf(&b, "%s- a:\n", strings.Repeat("  ", i))
		}
		if d%2 == 1 {
			fmt.Fprintf(&b, "%s- x\n", strings.Repeat("  ", d/2))
		}
		return b.String()
	},
	line:   1 + maxDepth/2,
	column: maxDepth + 1,
}}

// TestDepthLimit: a document nested maxDepth levels is read; one level more
// is refused with the position of the collection that goes too deep.
func TestDepthLimit(t *testing.T) {
	for _, tc := range nested {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("deep.yaml", []byte(tc.gen(maxDepth)))
			if err != nil && strings.Contains(err.Error(), "nested deeper") {
				t.Errorf("depth %d refused: %v", maxDepth, err)
			}
			_, err = Decode("deep.yaml", []byte(tc.gen(maxDepth+1)))
			lang := "YAML"
			if strings.HasPrefix(tc.name, "JSON") {
				lang = "JSON"
			}
			want := fmt.Sprintf("deep.yaml: invalid %s: line %d, column %d: nested deeper than 1000 levels", lang, tc.line, tc.column)
			if got := fmt.Sprint(err); got != want {
				t.Errorf("depth %d:\n got %s\nwant %s", maxDepth+1, got, want)
			}
		})
	}
}

// TestDepthLimitNamesDocument: the error names the document and counts lines
// from the top of the file, in Decode and DecodeInto.
func TestDepthLimitNamesDocument(t *testing.T) {
	deep := "a: " + strings.Repeat("[", maxDepth+1) + "\n"
	_, err := Decode("f.yaml", []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n"+deep))
	want := "f.yaml (document 2): invalid YAML: line 6, column 1003: nested deeper than 1000 levels"
	if got := fmt.Sprint(err); got != want {
		t.Errorf("Decode:\n got %s\nwant %s", got, want)
	}
	err = DecodeInto([]byte(`{"metadata":`+strings.Repeat("[", maxDepth)+"}"), &corev1.Namespace{})
	want = "invalid JSON: line 1, column 1012: nested deeper than 1000 levels"
	if got := fmt.Sprint(err); got != want {
		t.Errorf("DecodeInto:\n got %s\nwant %s", got, want)
	}
}

// TestDepthLimitMemory: 200 KB of nesting, the case that took 22 GB when
// every level built its own path string, is refused within a few MB.
func TestDepthLimitMemory(t *testing.T) {
	const size = 200 << 10
	const limit = 32 << 20
	for _, tc := range nested {
		if len(tc.gen(2*maxDepth)) > size {
			continue // indentation: 200 KB cannot nest this deep
		}
		in := []byte(tc.gen(maxDepth * size / len(tc.gen(maxDepth))))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Decode("deep.yaml", in)
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "nested deeper") {
			t.Errorf("%s: got %v, want a depth error", tc.name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > limit {
			t.Errorf("%s: decoding %d bytes allocated %d MB, want at most %d MB", tc.name, len(in), n>>20, limit>>20)
		}
	}
}

// TestDepthScanNoFalseAlarms: brackets in quoted scalars, comments and block
// scalars, and long flat documents, do not count as nesting.
func TestDepthScanNoFalseAlarms(t *testing.T) {
	many := func(s string) string { return strings.Repeat(s, 2*maxDepth) }
	tests := map[string]string{
		"double-quoted":     `a: "` + many("[{") + `"`,
		"single-quoted":     `a: '` + many("['") + `'`,
		"multi-line quoted": "a: \"x\n" + many("  [\n") + "\"",
		"plain scalar":      "a: x" + many("[") + "\n",
		"comment":           "a: 1 # " + many("[") + "\n" + many("# [[\n"),
		"block scalar": "a: |\n" + many(" [\n") + "b: >-\n" + func() string {
			var b strings.Builder
			for i := 1; i < 2*maxDepth; i++ {
				b.WriteString(strings.Repeat(" ", i) + "x\n")
			}
			return b.String()
		}(),
		"sequences in mappings": many("a:\n- x\n- y: 1\n  z: 2\nb:\n  - c\n"),
		"flow in flow":          many("- [a, {b: [c]}]\n"),
		"continued plain":       "a: b\n" + many("   more\n"),
	}
	for name, in := range tests {
		if err := checkYAMLDepth([]byte(in)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestDuplicateKeysMemory: many duplicate keys deep in a document with long
// keys are listed up to a bound, then counted in a note.
func TestDuplicateKeysMemory(t *testing.T) {
	key := `"` + strings.Repeat("k", 200) + `":`
	deep := strings.Repeat("{"+key, maxDepth-2) + "{" + strings.Repeat(`"a":1,`, 30000) + `"a":1}` + strings.Repeat("}", maxDepth-2)
	in := []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"},"x":` + deep + "}")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Decode("dup.json", in)
	runtime.ReadMemStats(&after)
	var list ErrorList
	if !errors.As(err, &list) || len(list) < 2 || list[0].Message != "duplicate field" ||
		list[len(list)-1].Message != fmt.Sprintf("more duplicate fields than the %d listed", len(list)-1) {
		t.Fatalf("got %d errors, want duplicates and a note: %.300v", len(list), err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 32<<20 {
		t.Errorf("decoding %d bytes allocated %d MB, want at most 32 MB", len(in), n>>20)
	}
}
