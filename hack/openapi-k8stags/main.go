// Command openapi-k8stags writes pkg/apiserver/openapi's table of what
// Kubernetes' Go types declare about their fields beyond the fields' types:
// required fields, patch strategies and merge keys, list and map types,
// defaults. It
// reads the sources of k8s.io/api and k8s.io/apimachinery (at the version
// go.mod requires of apimachinery) and keeps the types and fields Keel's
// messages have. Run by go generate in pkg/apiserver/openapi.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"log"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"keel.dev/keel/pkg/apiserver/openapi"
	_ "keel.dev/keel/pkg/registry/all"
)

// field is one field's declarations; zero means nothing to record.
type field struct {
	required                bool
	patchStrategy, patchKey string
	listType, mapType       string
	listMapKeys             []string
	// def is the +default value when it is a JSON literal (not ref(…)).
	def string
}

func main() {
	out := flag.String("o", "zz_generated.k8stags.go", "file to write")
	flag.Parse()
	version := modVersion("k8s.io/apimachinery")
	roots := map[string]string{
		"k8s.io/api":          modDir("k8s.io/api@" + version),
		"k8s.io/apimachinery": modDir("k8s.io/apimachinery@" + version),
	}
	types := map[string]map[string]*ast.TypeSpec{} // package dir → type name → spec
	docs := map[*ast.TypeSpec]*ast.CommentGroup{}
	fields := map[string]map[string]field{} // definition → JSON name → field
	typeMaps := map[string]string{}         // definition → structType
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		msgs := fd.Messages()
		for i := 0; i < msgs.Len(); i++ {
			md := msgs.Get(i)
			def := openapi.DefinitionName(md)
			pkg, name := splitDef(def)
			dir := sourceDir(roots, pkg)
			if dir == "" {
				continue
			}
			if _, ok := types[dir]; !ok {
				types[dir] = parseDir(dir, docs)
			}
			ts := types[dir][name]
			if ts == nil {
				continue
			}
			if st := marker(docs[ts], "structType"); st != "" {
				typeMaps[def] = st
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, f := range st.Fields.List {
				json, decl := declared(f)
				if json == "" || md.Fields().ByJSONName(json) == nil || reflect.DeepEqual(decl, field{}) {
					continue
				}
				if fields[def] == nil {
					fields[def] = map[string]field{}
				}
				fields[def][json] = decl
			}
		}
		return true
	})
	src, err := format.Source(render(version, fields, typeMaps))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// splitDef splits "io.k8s.api.core.v1.Pod" into "k8s.io/api/core/v1" and
// "Pod".
func splitDef(def string) (pkg, name string) {
	i := strings.LastIndexByte(def, '.')
	parts := strings.Split(def[:i], ".")
	if len(parts) < 3 || parts[0] != "io" || parts[1] != "k8s" {
		return "", def[i+1:]
	}
	return "k8s.io/" + strings.Join(parts[2:], "/"), def[i+1:]
}

// sourceDir is the directory of Go package pkg in the module sources, ""
// if there is none.
func sourceDir(roots map[string]string, pkg string) string {
	for mod, dir := range roots {
		if rest, ok := strings.CutPrefix(pkg, mod+"/"); ok {
			d := filepath.Join(dir, filepath.FromSlash(rest))
			if _, err := os.Stat(d); err == nil {
				return d
			}
		}
	}
	return ""
}

// parseDir returns the type declarations of the Go package in dir, and
// records each one's doc comment in docs.
func parseDir(dir string, docs map[*ast.TypeSpec]*ast.CommentGroup) map[string]*ast.TypeSpec {
	out := map[string]*ast.TypeSpec{}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		log.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			log.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				out[ts.Name.Name] = ts
				docs[ts] = ts.Doc
				if docs[ts] == nil {
					docs[ts] = gd.Doc
				}
			}
		}
	}
	return out
}

// declared returns a struct field's JSON name and its declarations, as
// Kubernetes' OpenAPI generator reads them: +optional/+required markers,
// else omitempty, say whether it is required; the patch tags or markers;
// +listType, +listMapKey and +mapType.
func declared(f *ast.Field) (string, field) {
	if len(f.Names) != 1 || f.Tag == nil {
		return "", field{}
	}
	tag, err := strconv.Unquote(f.Tag.Value)
	if err != nil {
		log.Fatal(err)
	}
	st := reflect.StructTag(tag)
	name, opts, _ := strings.Cut(st.Get("json"), ",")
	if name == "" || name == "-" {
		return "", field{}
	}
	var d field
	switch {
	case hasMarker(f.Doc, "required"):
		d.required = true
	case hasMarker(f.Doc, "optional"):
	default:
		d.required = !strings.Contains(opts, "omitempty")
	}
	d.patchStrategy = st.Get("patchStrategy")
	if d.patchStrategy == "" {
		d.patchStrategy = marker(f.Doc, "patchStrategy")
	}
	d.patchKey = st.Get("patchMergeKey")
	if d.patchKey == "" {
		d.patchKey = marker(f.Doc, "patchMergeKey")
	}
	d.listType = marker(f.Doc, "listType")
	d.mapType = marker(f.Doc, "mapType")
	d.listMapKeys = markers(f.Doc, "listMapKey")
	if v := marker(f.Doc, "default"); json.Valid([]byte(v)) {
		d.def = v
	}
	return name, d
}

func hasMarker(doc *ast.CommentGroup, name string) bool {
	for _, l := range commentLines(doc) {
		if l == "+"+name || strings.HasPrefix(l, "+"+name+"=") {
			return true
		}
	}
	return false
}

func marker(doc *ast.CommentGroup, name string) string {
	if v := markers(doc, name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// markers returns the values of every "+name=value" line of doc.
func markers(doc *ast.CommentGroup, name string) []string {
	var out []string
	for _, l := range commentLines(doc) {
		if v, ok := strings.CutPrefix(l, "+"+name+"="); ok {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

func commentLines(doc *ast.CommentGroup) []string {
	if doc == nil {
		return nil
	}
	var out []string
	for _, c := range doc.List {
		out = append(out, strings.TrimSpace(strings.TrimPrefix(c.Text, "//")))
	}
	return out
}

func render(version string, fields map[string]map[string]field, typeMaps map[string]string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by hack/openapi-k8stags from k8s.io/api and k8s.io/apimachinery %s. DO NOT EDIT.\n\n", version)
	b.WriteString("package openapi\n\n")
	b.WriteString("// k8sFields holds, by definition and JSON field name, what Kubernetes' Go\n// types declare about the fields Keel's messages share with them.\n")
	b.WriteString("var k8sFields = map[string]map[string]k8sField{\n")
	for _, def := range sortedKeys(fields) {
		fmt.Fprintf(&b, "%q: {\n", def)
		for _, name := range sortedKeys(fields[def]) {
			f := fields[def][name]
			fmt.Fprintf(&b, "%q: {", name)
			if f.required {
				b.WriteString("Required: true, ")
			}
			for _, kv := range [][2]string{{"PatchStrategy", f.patchStrategy}, {"PatchMergeKey", f.patchKey}, {"ListType", f.listType}, {"MapType", f.mapType}, {"Default", f.def}} {
				if kv[1] != "" {
					fmt.Fprintf(&b, "%s: %q, ", kv[0], kv[1])
				}
			}
			if len(f.listMapKeys) > 0 {
				fmt.Fprintf(&b, "ListMapKeys: %#v, ", f.listMapKeys)
			}
			b.WriteString("},\n")
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n\n")
	b.WriteString("// k8sStructTypes holds the +structType of Kubernetes' types that declare\n// one (\"atomic\": replaced as a whole by apply).\n")
	b.WriteString("var k8sStructTypes = map[string]string{\n")
	for _, def := range sortedKeys(typeMaps) {
		fmt.Fprintf(&b, "%q: %q,\n", def, typeMaps[def])
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// modVersion is the version of module mod that go.mod selects.
func modVersion(mod string) string {
	return strings.TrimSpace(string(run("go", "list", "-m", "-f", "{{.Version}}", mod)))
}

// modDir downloads module@version if need be and returns its directory.
func modDir(modAtVersion string) string {
	var m struct{ Dir string }
	if err := json.Unmarshal(run("go", "mod", "download", "-json", modAtVersion), &m); err != nil || m.Dir == "" {
		log.Fatalf("go mod download %s: %v", modAtVersion, err)
	}
	return m.Dir
}

func run(name string, args ...string) []byte {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		log.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}
