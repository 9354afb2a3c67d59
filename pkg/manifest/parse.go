package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// document is one raw document of a file, before conversion.
type document struct {
	value any      // generic JSON value: map[string]any, []any, string, json.Number, bool, nil
	errs  []*Error // syntax problems (Path set for duplicate keys)
}

// splitDocuments parses a file into documents. JSON input (first
// non-space byte '{') is a stream of JSON values; anything else is YAML with
// "---" separated documents, split by apimachinery's YAML reader. Documents
// that are empty (or only comments) come back with a nil value.
func splitDocuments(data []byte) ([]document, error) {
	if isJSON(data) {
		docs, syntaxErr := splitJSON(data)
		if !syntaxErr {
			return docs, nil
		}
		// Not JSON after all? A YAML flow mapping also starts with '{'. Keep
		// the JSON error unless the file reads cleanly as YAML.
		if ydocs, err := splitYAML(data); err == nil && cleanDocs(ydocs) {
			return ydocs, nil
		}
		return docs, nil
	}
	return splitYAML(data)
}

func cleanDocs(docs []document) bool {
	for _, d := range docs {
		if len(d.errs) > 0 {
			return false
		}
	}
	return true
}

// splitYAML splits YAML documents with apimachinery's reader and converts
// each one.
func splitYAML(data []byte) ([]document, error) {
	starts := yamlDocumentStarts(data)
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []document
	for {
		raw, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		offset := 0
		if len(starts) == 0 || len(docs) >= len(starts) {
			starts = nil // our line count disagrees with the reader: report document-relative lines
		} else {
			offset = starts[len(docs)] - 1
		}
		docs = append(docs, parseYAML(raw, offset))
	}
	return docs, nil
}

func isJSON(data []byte) bool {
	trimmed := bytes.TrimLeftFunc(data, unicode.IsSpace)
	return len(trimmed) > 0 && trimmed[0] == '{'
}

// yamlDocumentStarts returns the 1-based line on which each non-empty document
// starts, mirroring the reader: a line beginning with "---" separates
// documents and a separator directly after another yields no document.
func yamlDocumentStarts(data []byte) []int {
	var starts []int
	inDoc := false
	line := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	for sc.Scan() {
		line++
		if strings.HasPrefix(sc.Text(), "---") {
			inDoc = false
			continue
		}
		if !inDoc {
			starts = append(starts, line)
			inDoc = true
		}
	}
	if sc.Err() != nil {
		return nil
	}
	return starts
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// parseYAML converts one YAML document to a generic value. Duplicate keys are
// errors (YAMLToJSONStrict). YAML error lines are shifted by offset so they
// count from the top of the file.
func parseYAML(raw []byte, offset int) document {
	j, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return document{errs: yamlErrors(err, offset)}
	}
	return parseJSONDocument(j)
}

// yamlErrors turns a go-yaml error ("yaml: line 3: ..." or "yaml: unmarshal
// errors:\n  line 4: ...\n  line 9: ...") into one Error per problem.
func yamlErrors(err error, offset int) []*Error {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	var lines []string
	if rest, ok := strings.CutPrefix(msg, "unmarshal errors:\n"); ok {
		for _, l := range strings.Split(rest, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
	} else {
		lines = []string{msg}
	}
	errs := make([]*Error, 0, len(lines))
	for _, l := range lines {
		l = yamlLineRE.ReplaceAllStringFunc(l, func(s string) string {
			n, _ := strconv.Atoi(strings.TrimPrefix(s, "line "))
			return "line " + strconv.Itoa(n+offset)
		})
		errs = append(errs, &Error{Message: "invalid YAML: " + l})
	}
	return errs
}

// splitJSON parses a stream of JSON values; each is a document. syntaxErr
// reports a malformed stream (the last document then holds the error).
func splitJSON(data []byte) (docs []document, syntaxErr bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		p := &jsonParser{dec: dec}
		v, err := p.value("")
		if err == io.EOF && len(p.errs) == 0 {
			return docs, false
		}
		if err != nil {
			docs = append(docs, document{errs: []*Error{jsonSyntaxError(err, data)}})
			return docs, true // the rest of the stream cannot be resynchronised
		}
		docs = append(docs, document{value: v, errs: p.errs})
	}
}

// parseJSONDocument parses exactly one JSON value.
func parseJSONDocument(data []byte) document {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &jsonParser{dec: dec}
	v, err := p.value("")
	if err == io.EOF {
		return document{}
	}
	if err != nil {
		return document{errs: []*Error{jsonSyntaxError(err, data)}}
	}
	if _, err := dec.Token(); err != io.EOF {
		return document{errs: []*Error{{Message: "invalid JSON: unexpected data after the top-level value"}}}
	}
	return document{value: v, errs: p.errs}
}

func jsonSyntaxError(err error, data []byte) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := min(int(se.Offset), len(data))
		line := 1 + bytes.Count(data[:off], []byte("\n"))
		return &Error{Message: fmt.Sprintf("invalid JSON: line %d: %s", line, se.Error())}
	}
	if err == io.ErrUnexpectedEOF {
		return &Error{Message: "invalid JSON: unexpected end of input"}
	}
	return &Error{Message: "invalid JSON: " + err.Error()}
}

// jsonParser builds generic values from a token stream, reporting duplicate
// object keys (which encoding/json would silently merge) with their path.
type jsonParser struct {
	dec  *json.Decoder
	errs []*Error
}

func (p *jsonParser) value(path string) (any, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	switch d {
	case '{':
		m := map[string]any{}
		for p.dec.More() {
			kt, err := p.dec.Token()
			if err != nil {
				return nil, unexpectedEOF(err)
			}
			k, _ := kt.(string)
			child := fieldPath(path, k)
			v, err := p.value(child)
			if err != nil {
				return nil, unexpectedEOF(err)
			}
			if _, dup := m[k]; dup {
				p.errs = append(p.errs, &Error{Path: child, Message: "duplicate field"})
				continue
			}
			m[k] = v
		}
		if _, err := p.dec.Token(); err != nil { // '}'
			return nil, unexpectedEOF(err)
		}
		return m, nil
	case '[':
		l := []any{}
		for i := 0; p.dec.More(); i++ {
			v, err := p.value(indexPath(path, i))
			if err != nil {
				return nil, unexpectedEOF(err)
			}
			l = append(l, v)
		}
		if _, err := p.dec.Token(); err != nil { // ']'
			return nil, unexpectedEOF(err)
		}
		return l, nil
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

// unexpectedEOF reports an end of input inside a value as truncation: only
// the top level may end cleanly.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
