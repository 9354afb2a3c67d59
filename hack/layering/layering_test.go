// Package layering checks the import directions that docs/architecture.md
// describes against the module's real (non-test) imports, read with one
// `go list -deps` call. The rules are the tables below; change them and
// docs/architecture.md together.
package layering

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/scanner"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// module is the module's path; rules name its packages relative to it.
const module = "keel.dev/keel"

// A pattern names a package ("pkg/storage") or, ending in "/...", a
// package and every package below it ("pkg/apis/..."). Patterns of the
// module's packages are relative to the module; others ("go.etcd.io/...")
// are full import paths.

// layer is a set of packages and the layers they may import, besides their
// own.
type layer struct {
	name      string
	pkgs      []string
	mayImport []string
}

// layers, bottom to top. A package is in the first layer one of whose
// patterns matches it; every package of the module must be in one (test
// helpers aside, see isTestHelper).
var layers = []layer{
	{name: "api", pkgs: []string{"pkg/apis/...", "pkg/api/..."}},
	{name: "library", pkgs: []string{
		"pkg/apierrors/...", "pkg/auth/...", "pkg/csi/...", "pkg/daemon/...", "pkg/defaults/...", "pkg/labelselector/...",
		"pkg/manifest/...", "pkg/nodeaffinity/...", "pkg/pki/...", "pkg/printers/...", "pkg/quota/...", "pkg/scheme/...", "pkg/snapshotfile/...", "pkg/taints/...", "pkg/validation/...", "pkg/version/...", "pkg/volumematch/...",
		// The registry framework (the Strategy type, lookups, validation
		// composition); the kinds below it are the next layer.
		"pkg/registry",
	}, mayImport: []string{"api"}},
	{name: "kind", pkgs: []string{"pkg/registry/..."}, mayImport: []string{"api", "library"}},
	{name: "server", pkgs: []string{"pkg/apiserver/...", "pkg/storage/...", "pkg/watchcache/...", "pkg/etcdserver/..."},
		mayImport: []string{"api", "library", "kind"}},
	{name: "client", pkgs: []string{"pkg/client/..."}, mayImport: []string{"api", "library", "kind"}},
	{name: "daemon", pkgs: []string{"pkg/kubelet/...", "pkg/scheduler/...", "pkg/controller/...", "pkg/proxy/...", "pkg/keelctl/..."},
		mayImport: []string{"api", "library", "kind", "client"}},
	{name: "main", pkgs: []string{"cmd/...", "hack/..."},
		mayImport: []string{"api", "library", "kind", "server", "client", "daemon"}},
}

// daemons: the packages of each daemon, its main included. A daemon's
// package never imports another daemon's.
var daemons = []struct {
	name string
	pkgs []string
}{
	{"apiserver", []string{"pkg/apiserver/...", "cmd/apiserver"}},
	{"kubelet", []string{"pkg/kubelet/...", "cmd/kubelet"}},
	{"scheduler", []string{"pkg/scheduler/...", "cmd/scheduler"}},
	{"controller-manager", []string{"pkg/controller/...", "cmd/controller-manager"}},
	{"proxy", []string{"pkg/proxy/...", "cmd/proxy"}},
	{"keelctl", []string{"pkg/keelctl/...", "cmd/ctl"}},
}

// restricted packages may be imported only by the packages listed (and by
// test helpers).
var restricted = []struct {
	pkgs []string
	by   []string
	why  string
}{
	{[]string{"go.etcd.io/..."}, []string{"pkg/storage", "pkg/etcdserver", "pkg/etcdserver/snapshot", "hack/..."},
		"only the storage layer, the embedded etcd server and its snapshots talk to etcd"},
	{[]string{"pkg/defaults/..."}, []string{"pkg/apiserver/...", "pkg/registry/..."},
		"defaulting belongs to the apiserver"},
	{[]string{"pkg/apiserver/..."}, []string{"pkg/apiserver/...", "cmd/apiserver", "hack/..."},
		"only the apiserver side builds on the apiserver"},
}

// isTestHelper tells test helper packages (testutil, testserver,
// controllertest, …): they may import anything, and only test helpers,
// hack/ and _test.go files (which `go list` without -test does not see)
// may import them.
func isTestHelper(rel string) bool {
	base := rel[strings.LastIndex(rel, "/")+1:]
	return strings.HasPrefix(base, "test") || strings.HasSuffix(base, "test")
}

// maxMainLines bounds the lines of code (comments and blank lines aside) of
// a cmd/* package, which is one file, main.go.
const maxMainLines = 40

// fatMains are the mains exempt from maxMainLines, and why.
var fatMains = map[string]string{
	"cmd/pause": "the pod sandbox process: a static binary that imports nothing, so its whole program is its main",
}

// knownViolations are breaks being fixed now (issue 10). Delete an entry
// when its fix merges: the test fails while an entry matches nothing.
// to "" matches a main that is not thin.
var knownViolations = []struct {
	from, to []string
	why      string
}{}

// pkg is what the rules need of a package of the module.
type pkg struct {
	rel     string   // path relative to the module
	imports []string // relative for the module's packages, else full
	main    bool     // package main
	files   []string // non-test Go files
	lines   int      // lines of code in files (comments, blank lines aside)
}

// violation is one import (to "" for a main that is not thin) that breaks
// a rule.
type violation struct {
	from, to, rule string
}

func TestLayering(t *testing.T) {
	pkgs, err := load("../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 50 {
		t.Fatalf("go list found only %d packages of %s", len(pkgs), module)
	}
	report(t, pkgs, check(pkgs))
}

// TestRules feeds the rules packages that break each of them, and some
// that break none.
func TestRules(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    pkg
		want []string // each violation's "from → to: rule", up to some point
	}{
		{"api imports a library", pkg{rel: "pkg/apis/core/v1", imports: []string{"pkg/apis/meta/v1", "pkg/scheme"}},
			[]string{"pkg/apis/core/v1 → pkg/scheme: layer api"}},
		{"library imports the client", pkg{rel: "pkg/printers", imports: []string{"pkg/scheme", "pkg/client"}},
			[]string{"pkg/printers → pkg/client: layer library"}},
		{"client imports the server side", pkg{rel: "pkg/client/informer", imports: []string{"pkg/client", "pkg/watchcache"}},
			[]string{"pkg/client/informer → pkg/watchcache: layer client"}},
		{"a daemon imports another's", pkg{rel: "pkg/scheduler/framework", imports: []string{"pkg/kubelet/cri"}},
			[]string{"pkg/scheduler/framework → pkg/kubelet/cri: daemon scheduler"}},
		{"a daemon imports the apiserver", pkg{rel: "cmd/kubelet", imports: []string{"pkg/apiserver"}, files: []string{"main.go"}},
			[]string{"cmd/kubelet → pkg/apiserver: daemon kubelet's package cmd/kubelet imports daemon apiserver's pkg/apiserver; cmd/kubelet imports pkg/apiserver: only"}},
		{"etcd outside storage", pkg{rel: "pkg/watchcache", imports: []string{"pkg/storage", "go.etcd.io/etcd/client/v3"}},
			[]string{"pkg/watchcache → go.etcd.io/etcd/client/v3: pkg/watchcache imports go.etcd.io/etcd/client/v3: only"}},
		{"keelctl restores with etcd's code", pkg{rel: "pkg/keelctl/etcd", imports: []string{"go.etcd.io/etcd/etcdutl/v3/snapshot"}},
			[]string{"pkg/keelctl/etcd → go.etcd.io/etcd/etcdutl/v3/snapshot: pkg/keelctl/etcd imports go.etcd.io/etcd/etcdutl/v3/snapshot: only"}},
		{"defaulting outside the apiserver", pkg{rel: "pkg/proxy", imports: []string{"pkg/defaults"}},
			[]string{"pkg/proxy → pkg/defaults: pkg/proxy imports pkg/defaults: only"}},
		{"a test helper in a binary", pkg{rel: "pkg/kubelet", imports: []string{"pkg/testutil", "pkg/apiserver/testserver"}},
			[]string{"pkg/kubelet → pkg/testutil: pkg/testutil is a test helper", "pkg/kubelet → pkg/apiserver/testserver: pkg/apiserver/testserver is a test helper"}},
		{"a package in no layer", pkg{rel: "pkg/newthing"}, []string{"pkg/newthing → : the package is in no layer"}},
		{"a main of two files", pkg{rel: "cmd/x", files: []string{"main.go", "run.go"}}, []string{"cmd/x → : cmd/x has the files main.go, run.go"}},
		{"a long main", pkg{rel: "cmd/x", files: []string{"main.go"}, lines: maxMainLines + 1}, []string{"cmd/x → : cmd/x/main.go has 41 lines"}},

		{"the apiserver defaults and reaches storage", pkg{rel: "pkg/apiserver", imports: []string{"pkg/defaults", "pkg/storage", "pkg/scheme", "pkg/apis/core/v1", "context"}}, nil},
		{"storage imports etcd", pkg{rel: "pkg/storage", imports: []string{"go.etcd.io/etcd/client/v3"}}, nil},
		{"snapshots are restored with etcd's code", pkg{rel: "pkg/etcdserver/snapshot", imports: []string{"go.etcd.io/etcd/etcdutl/v3/snapshot"}}, nil},
		{"a daemon over the client", pkg{rel: "pkg/kubelet/app", imports: []string{"pkg/kubelet", "pkg/client", "pkg/daemon", "github.com/spf13/cobra"}}, nil},
		{"a thin main", pkg{rel: "cmd/kubelet", imports: []string{"pkg/kubelet/app", "pkg/daemon"}, files: []string{"main.go"}, lines: maxMainLines}, nil},
		{"hack uses test helpers and etcd", pkg{rel: "hack/bench/x", imports: []string{"pkg/testutil", "go.etcd.io/etcd/client/v3", "pkg/apiserver"}}, nil},
		{"test helpers import anything", pkg{rel: "pkg/controller/controllertest", imports: []string{"pkg/apiserver/testserver", "go.etcd.io/etcd/client/v3"}}, nil},
		{"the pause exception", pkg{rel: "cmd/pause", files: []string{"main.go"}, lines: 100}, nil},
	} {
		var got []string
		for _, v := range check([]pkg{tt.p}) {
			got = append(got, v.from+" → "+v.to+": "+v.rule)
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: got %d violations, want %d:\n%s", tt.name, len(got), len(tt.want), strings.Join(got, "\n"))
			continue
		}
		for i, w := range tt.want {
			if !strings.HasPrefix(got[i], w) {
				t.Errorf("%s: violation %q, want one with %q", tt.name, got[i], w)
			}
		}
	}
}

func TestCodeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "main.go")
	src := "// Command x.\npackage main\n\n/* a\nblock */\nimport \"fmt\"\n\nfunc main() {\n\t// say it\n\tfmt.Println(\"hi\") // inline\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := codeLines(path); n != 5 || err != nil {
		t.Errorf("codeLines = %d, %v; want 5 (package, import, func, Println, })", n, err)
	}
}

// report fails t for each violation that is not known, naming the chain of
// imports from a main to it, and for each known violation that no longer
// happens.
func report(t *testing.T, pkgs []pkg, vs []violation) {
	t.Helper()
	chains := chainsFromMains(pkgs)
	used := make([]bool, len(knownViolations))
	for _, v := range vs {
		if i := knownIndex(v); i >= 0 {
			used[i] = true
			continue
		}
		chain := chains[v.from]
		if chain == nil {
			chain = []string{v.from}
		}
		if v.to != "" {
			chain = append(slices.Clone(chain), v.to)
		}
		t.Errorf("%s\n\t%s (see docs/architecture.md)", strings.Join(chain, " → "), v.rule)
	}
	for i, used := range used {
		if !used {
			k := knownViolations[i]
			t.Errorf("knownViolations entry %v → %v (%s) matches nothing any more: delete it", k.from, k.to, k.why)
		}
	}
}

func knownIndex(v violation) int {
	for i, k := range knownViolations {
		if matchAny(k.from, v.from) && (slices.Contains(k.to, v.to) || v.to != "" && matchAny(k.to, v.to)) {
			return i
		}
	}
	return -1
}

// check applies every rule to pkgs.
func check(pkgs []pkg) []violation {
	var vs []violation
	for _, p := range pkgs {
		if isTestHelper(p.rel) {
			continue
		}
		if strings.HasPrefix(p.rel, "cmd/") {
			if why := thinMain(p); why != "" {
				vs = append(vs, violation{p.rel, "", why})
			}
		}
		from := layerOf(p.rel)
		if from == nil {
			vs = append(vs, violation{p.rel, "", "the package is in no layer: add it to the layers table and docs/architecture.md"})
		}
		for _, imp := range p.imports {
			var rules []string
			if isKeel(imp) && isTestHelper(imp) && !strings.HasPrefix(p.rel, "hack/") {
				rules = append(rules, imp+" is a test helper: only tests, test helpers and hack/ import it")
			} else if to := layerOf(imp); isKeel(imp) && from != nil && to != nil && to != from && !slices.Contains(from.mayImport, to.name) {
				rules = append(rules, fmt.Sprintf("layer %s (%s) may not import layer %s (%s)", from.name, p.rel, to.name, imp))
			}
			if a, b := daemonOf(p.rel), daemonOf(imp); a != "" && b != "" && a != b {
				rules = append(rules, fmt.Sprintf("daemon %s's package %s imports daemon %s's %s", a, p.rel, b, imp))
			}
			for _, r := range restricted {
				if matchAny(r.pkgs, imp) && !matchAny(r.by, p.rel) {
					rules = append(rules, fmt.Sprintf("%s imports %s: only %s may (%s)", p.rel, imp, strings.Join(r.by, ", "), r.why))
				}
			}
			if len(rules) > 0 {
				vs = append(vs, violation{p.rel, imp, strings.Join(rules, "; ")})
			}
		}
	}
	return vs
}

// thinMain says why a cmd/* package is not a thin main ("" if it is).
func thinMain(p pkg) string {
	if _, ok := fatMains[p.rel]; ok {
		return ""
	}
	if !slices.Equal(p.files, []string{"main.go"}) {
		return fmt.Sprintf("%s has the files %s: a main is one file, main.go, that runs a package's command", p.rel, strings.Join(p.files, ", "))
	}
	if p.lines > maxMainLines {
		return fmt.Sprintf("%s/main.go has %d lines of code, more than %d: move the logic into a package", p.rel, p.lines, maxMainLines)
	}
	return ""
}

func layerOf(path string) *layer {
	for i := range layers {
		if matchAny(layers[i].pkgs, path) {
			return &layers[i]
		}
	}
	return nil
}

func daemonOf(path string) string {
	for _, d := range daemons {
		if matchAny(d.pkgs, path) {
			return d.name
		}
	}
	return ""
}

func matchAny(patterns []string, path string) bool {
	for _, p := range patterns {
		if dir, ok := strings.CutSuffix(p, "/..."); ok {
			if path == dir || strings.HasPrefix(path, dir+"/") {
				return true
			}
		} else if path == p {
			return true
		}
	}
	return false
}

// isKeel tells a package of the module (relative path) from another. The
// module's packages are under pkg/, cmd/ and hack/; a package anywhere else
// is reported as in no layer, so a new top-level directory is added here
// and to the layers at once.
func isKeel(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") && (first == "pkg" || first == "cmd" || first == "hack")
}

// chainsFromMains finds, for each package, a shortest import chain from a
// main package to it.
func chainsFromMains(pkgs []pkg) map[string][]string {
	byPath := map[string]pkg{}
	var queue []string
	chains := map[string][]string{}
	for _, p := range pkgs {
		byPath[p.rel] = p
		if p.main {
			chains[p.rel] = []string{p.rel}
			queue = append(queue, p.rel)
		}
	}
	sort.Strings(queue)
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, imp := range byPath[cur].imports {
			if _, seen := chains[imp]; seen || !isKeel(imp) {
				continue
			}
			chains[imp] = append(slices.Clone(chains[cur]), imp)
			queue = append(queue, imp)
		}
	}
	return chains
}

// load lists the module's packages in dir with one `go list -deps` call.
func load(dir string) ([]pkg, error) {
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Name,Dir,GoFiles,Imports,Module", "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var lp struct {
			ImportPath, Name, Dir string
			GoFiles, Imports      []string
			Module                *struct{ Path string }
		}
		if err := dec.Decode(&lp); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		if lp.Module == nil || lp.Module.Path != module {
			continue
		}
		p := pkg{rel: relative(lp.ImportPath), main: lp.Name == "main", files: lp.GoFiles}
		for _, imp := range lp.Imports {
			p.imports = append(p.imports, relative(imp))
		}
		if strings.HasPrefix(p.rel, "cmd/") {
			for _, f := range lp.GoFiles {
				n, err := codeLines(filepath.Join(lp.Dir, f))
				if err != nil {
					return nil, err
				}
				p.lines += n
			}
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

func relative(importPath string) string {
	if rel, ok := strings.CutPrefix(importPath, module+"/"); ok {
		return rel
	}
	return importPath
}

// codeLines counts the lines of a Go file that hold code, not only
// comments or nothing.
func codeLines(path string) (int, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	fset := token.NewFileSet()
	file := fset.AddFile(path, -1, len(src))
	var s scanner.Scanner
	var errs scanner.ErrorList
	s.Init(file, src, func(pos token.Position, msg string) { errs.Add(pos, msg) }, 0)
	lines := map[int]bool{}
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue
		}
		lines[file.Line(pos)] = true
	}
	if err := errs.Err(); err != nil {
		return 0, err
	}
	return len(lines), nil
}
