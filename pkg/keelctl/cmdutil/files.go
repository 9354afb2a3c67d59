package cmdutil

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"keel.dev/keel/pkg/manifest"
)

// FileFlags are the -f/-R flags of the commands that read manifests.
type FileFlags struct {
	filenames []string
	recursive bool
}

// Add adds -f and -R to cmd; what completes the -f help ("to apply").
func (f *FileFlags) Add(cmd *cobra.Command, what string) {
	cmd.Flags().StringSliceVarP(&f.filenames, "filename", "f", nil, "file, directory (its *.yaml, *.yml and *.json files) or - (stdin) with the manifests "+what+" (repeatable)")
	cmd.Flags().BoolVarP(&f.recursive, "recursive", "R", false, "also read the directories given with -f recursively")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
}

// manifestExts are the file names read from a directory.
var manifestExts = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// ReadObjects decodes every manifest of the -f arguments, in order
// (directories in name order). Problems are returned, not fatal: a file
// with a bad document still yields its good documents, so that the caller
// acts on every object it can and reports every problem. A document of an
// apiVersion and kind keelctl does not know makes it load the custom
// resources (LoadCustomResources) and decode the file again.
func (c *CLI) ReadObjects(ctx context.Context, f FileFlags) ([]manifest.Object, ErrorList) {
	var (
		objs []manifest.Object
		errs ErrorList
	)
	if len(f.filenames) == 0 {
		return nil, ErrorList{errors.New("must specify -f (a file, a directory or - for stdin)")}
	}
	read := func(source string, data []byte) {
		o, err := manifest.Decode(source, data)
		if err != nil && manifest.HasUnknownKind(err) && !c.crdsLoaded {
			if lerr := c.LoadCustomResources(ctx); lerr == nil {
				o, err = manifest.Decode(source, data)
			}
		}
		if err == nil {
			objs = append(objs, o...)
			return
		}
		errs = append(errs, err)
		objs = append(objs, salvage(source, data)...)
	}
	for _, name := range f.filenames {
		if name == "-" {
			data, err := io.ReadAll(c.In)
			if err != nil {
				errs = append(errs, fmt.Errorf("reading stdin: %w", err))
				continue
			}
			read("STDIN", data)
			continue
		}
		files, err := expandPath(name, f.recursive, true)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			read(p, data)
		}
	}
	return objs, errs
}

// expandPath lists the manifest files of path: itself if it is a file,
// else its *.yaml, *.yml and *.json files in name order (and with
// recursive, those of its subdirectories).
func expandPath(path string, recursive, top bool) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("the path %q does not exist", path)
		}
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		p := filepath.Join(path, e.Name())
		if e.IsDir() {
			if recursive {
				sub, err := expandPath(p, true, false)
				if err != nil {
					return nil, err
				}
				out = append(out, sub...)
			}
			continue
		}
		if manifestExts[strings.ToLower(filepath.Ext(e.Name()))] {
			out = append(out, p)
		}
	}
	if top && len(out) == 0 {
		return nil, fmt.Errorf("no manifests (*.yaml, *.yml, *.json) in directory %q", path)
	}
	return out, nil
}

// salvage decodes the documents of a file one by one, after decoding the
// whole file failed, and returns the objects of the documents that decode
// cleanly. Documents are split and numbered as manifest.Decode does (empty
// documents skipped and not counted), so each object keeps the source
// ("file (document N)") the whole-file errors used.
func salvage(source string, data []byte) []manifest.Object {
	docs, err := splitDocuments(data)
	if err != nil {
		return nil
	}
	var out []manifest.Object
	for i, d := range docs {
		src := source
		if len(docs) > 1 {
			src = fmt.Sprintf("%s (document %d)", source, i+1)
		}
		objs, err := manifest.Decode(src, d)
		if err != nil {
			continue
		}
		for _, o := range objs {
			o.Source = src
			out = append(out, o)
		}
	}
	return out
}

// splitDocuments splits a YAML stream on "---" lines, or a JSON stream
// into its values, dropping empty documents.
func splitDocuments(data []byte) ([][]byte, error) {
	if t := bytes.TrimLeftFunc(data, unicode.IsSpace); len(t) > 0 && t[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(data))
		var out [][]byte
		for {
			var raw json.RawMessage
			err := dec.Decode(&raw)
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				break // maybe YAML after all
			}
			out = append(out, raw)
		}
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out [][]byte
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if j, err := yaml.YAMLToJSON(doc); err == nil && (len(bytes.TrimSpace(j)) == 0 || string(bytes.TrimSpace(j)) == "null") {
			continue // empty or only comments
		}
		out = append(out, doc)
	}
}

// Given reports whether -f was given.
func (f *FileFlags) Given() bool { return len(f.filenames) > 0 }
