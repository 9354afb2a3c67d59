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
	value   any      // generic JSON value: map[string]any, []any, string, json.Number, bool, nil
	errs    []*Error // syntax problems (Path set for duplicate keys)
	tooDeep bool     // errs is a nesting depth error
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
		// the JSON error unless the file reads cleanly as YAML, or is too
		// deep as YAML (a too deep JSON document fails as such).
		if ydocs, err := splitYAML(data); err == nil && (cleanDocs(ydocs) || tooDeep(ydocs)) && !tooDeep(docs) {
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

func tooDeep(docs []document) bool {
	for _, d := range docs {
		if d.tooDeep {
			return true
		}
	}
	return false
}

// splitYAML splits YAML documents with apimachinery's reader and converts
// each one.
func splitYAML(data []byte) ([]document, error) {
	starts := yamlDocumentStarts(data)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		// The reader drops a last line without a newline whose length is
		// a multiple of its 4096-byte buffer.
		data = append(data[:len(data):len(data)], '\n')
	}
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
// count from the top of the file. Documents nested deeper than maxDepth are
// refused before go-yaml sees them.
func parseYAML(raw []byte, offset int) document {
	var de *depthError
	if errors.As(checkYAMLDepth(raw), &de) {
		de.line += offset
		return document{errs: []*Error{{Message: "invalid YAML: " + de.Error()}}, tooDeep: true}
	}
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
		p := &jsonParser{dec: dec, data: data}
		v, err := p.value()
		if err == io.EOF && len(p.errs) == 0 {
			return docs, false
		}
		if err != nil {
			docs = append(docs, jsonErrorDocument(err, data))
			return docs, true // the rest of the stream cannot be resynchronised
		}
		docs = append(docs, document{value: v, errs: p.errs})
	}
}

// parseJSONDocument parses exactly one JSON value.
func parseJSONDocument(data []byte) document {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &jsonParser{dec: dec, data: data}
	v, err := p.value()
	if err == io.EOF {
		return document{}
	}
	if err != nil {
		return jsonErrorDocument(err, data)
	}
	if _, err := dec.Token(); err != io.EOF {
		return document{errs: []*Error{{Message: "invalid JSON: unexpected data after the top-level value"}}}
	}
	return document{value: v, errs: p.errs}
}

// jsonErrorDocument is the document of a JSON value that failed to parse.
func jsonErrorDocument(err error, data []byte) document {
	var se *json.SyntaxError
	var de *depthError
	msg := "invalid JSON: "
	switch {
	case errors.As(err, &se):
		off := min(int(se.Offset), len(data))
		line := 1 + bytes.Count(data[:off], []byte("\n"))
		msg += fmt.Sprintf("line %d: %s", line, se.Error())
	case errors.As(err, &de):
		return document{errs: []*Error{{Message: msg + de.Error()}}, tooDeep: true}
	case err == io.ErrUnexpectedEOF:
		msg += "unexpected end of input"
	default:
		msg += err.Error()
	}
	return document{errs: []*Error{{Message: msg}}}
}

// jsonParser builds generic values from a token stream, reporting duplicate
// object keys (which encoding/json would silently merge) with their path,
// and refusing values nested deeper than maxDepth.
//
// The path of the value being parsed is kept as a stack of elements and
// rendered only for an error, so that memory stays linear in the input
// however deep it nests.
type jsonParser struct {
	dec  *json.Decoder
	data []byte // the decoder's input, for error positions
	errs []*Error
	path []pathElem

	pathBytes     int  // total length of the duplicate-key paths listed
	duplicatesCut bool // more duplicates than listed
}

// pathElem is one step of a path: an object key, or a list index when
// index >= 0.
type pathElem struct {
	key   string
	index int
}

// Duplicate-key errors of one document are listed up to these bounds, on
// their number and on the total length of their paths: a few kilobytes of
// duplicates deep in a document with long keys would otherwise take
// gigabytes of paths.
const (
	maxDuplicateErrors    = 100
	maxDuplicatePathBytes = 1 << 20
)

// duplicate reports a duplicate key at the current path, or once that there
// are more than are listed.
func (p *jsonParser) duplicate() {
	if p.duplicatesCut {
		return
	}
	if len(p.errs) < maxDuplicateErrors && p.pathBytes < maxDuplicatePathBytes {
		path := p.pathString()
		p.pathBytes += len(path)
		p.errs = append(p.errs, &Error{Path: path, Message: "duplicate field"})
		return
	}
	p.duplicatesCut = true
	p.errs = append(p.errs, &Error{Message: fmt.Sprintf("more duplicate fields than the %d listed", len(p.errs))})
}

// pathString renders the current path as fieldPath and indexPath would.
func (p *jsonParser) pathString() string {
	n := 0
	for _, e := range p.path {
		n += len(e.key) + 12
	}
	var b strings.Builder
	b.Grow(n)
	for i, e := range p.path {
		switch {
		case e.index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.index))
			b.WriteByte(']')
		case i > 0:
			b.WriteByte('.')
			b.WriteString(e.key)
		default:
			b.WriteString(e.key)
		}
	}
	return b.String()
}

func (p *jsonParser) value() (any, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	if depth := len(p.path) + 1; depth > maxDepth {
		off := int(p.dec.InputOffset()) - 1 // the opening bracket
		line, col := position(p.data, off)
		return nil, &depthError{line: line, column: col}
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
			p.path = append(p.path, pathElem{key: k, index: -1})
			v, err := p.value()
			if err != nil {
				return nil, unexpectedEOF(err)
			}
			if _, dup := m[k]; dup {
				p.duplicate()
			} else {
				m[k] = v
			}
			p.path = p.path[:len(p.path)-1]
		}
		if _, err := p.dec.Token(); err != nil { // '}'
			return nil, unexpectedEOF(err)
		}
		return m, nil
	case '[':
		l := []any{}
		for i := 0; p.dec.More(); i++ {
			p.path = append(p.path, pathElem{index: i})
			v, err := p.value()
			if err != nil {
				return nil, unexpectedEOF(err)
			}
			p.path = p.path[:len(p.path)-1]
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
