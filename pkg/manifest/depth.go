package manifest

import (
	"bytes"
	"fmt"
)

// maxDepth is the deepest nesting of objects and lists a manifest may have;
// deeper documents are refused before they are converted.
//
// Kubernetes' own objects nest about 15 levels (a Deployment's container
// port is at depth 9); CustomResourceDefinition schemas, the deepest
// manifests in common use, rarely pass 100. 1000 leaves ample room for those
// while keeping a hostile document cheap: YAML and JSON parsing, the YAML to
// JSON conversion and the decoder all recurse once per level, so the stack
// and the per-level values stay within a few MB. (go-yaml's own limit is
// 10000 and encoding/json has none when reading tokens; at that depth the
// path strings the decoders used to build per level took gigabytes.)
const maxDepth = 1000

// depthError reports a document nested deeper than maxDepth, at the 1-based
// line and column (in bytes) of the collection that goes one level too deep.
type depthError struct {
	line, column int
}

func (e *depthError) Error() string {
	return fmt.Sprintf("line %d, column %d: nested deeper than %d levels", e.line, e.column, maxDepth)
}

// position is the 1-based line and byte column of data[off].
func position(data []byte, off int) (line, column int) {
	off = max(0, min(off, len(data)))
	line = 1 + bytes.Count(data[:off], []byte("\n"))
	column = off - (bytes.LastIndexByte(data[:off], '\n') + 1) + 1
	return line, column
}

// checkYAMLDepth scans one YAML document for nesting deeper than maxDepth,
// without parsing it: go-yaml builds the whole tree (up to its own limit of
// 10000 levels) before anything can look at it. It returns a *depthError or
// nil.
//
// The scan is an estimate that never needs the document to be valid. A level
// is a flow collection ('[' or '{' where a value may start, outside quoted
// scalars and comments), a block sequence (its "- " entries at one column,
// including compact ones such as "- - x") or a block mapping (its "key:"
// entries at one column). Block scalars ('|' and '>') are skipped. A
// construct it miscounts is caught after conversion by the JSON parser's own
// check, which knows the depth but not the YAML position.
func checkYAMLDepth(data []byte) error {
	s := yamlDepthScanner{data: data}
	return s.scan()
}

type yamlDepthScanner struct {
	data  []byte
	line  int          // 1-based line being scanned
	bol   int          // offset of its first byte
	flow  int          // open flow collections
	block []blockLevel // open block collections, innermost last
	quote byte         // '"' or '\'' while inside a quoted scalar, else 0
}

// blockLevel is an open block collection: the column of its entries and
// whether it is a sequence or a mapping.
type blockLevel struct {
	col int
	seq bool
}

func (s *yamlDepthScanner) fail(off int) error {
	return &depthError{line: s.line, column: off - s.bol + 1}
}

// enter opens the block collection whose entry is at offset off, unless the
// innermost open one is it. A sequence may sit at its parent mapping's
// column ("key:\n- a"), so an entry of a mapping at col closes a sequence
// there.
func (s *yamlDepthScanner) enter(off int, seq bool) error {
	col := off - s.bol
	for n := len(s.block); n > 0; n-- {
		top := s.block[n-1]
		if top.col < col || (top.col == col && (top.seq == seq || seq)) {
			break
		}
		s.block = s.block[:n-1]
	}
	if n := len(s.block); n > 0 && s.block[n-1] == (blockLevel{col, seq}) {
		return nil
	}
	s.block = append(s.block, blockLevel{col, seq})
	if len(s.block)+s.flow > maxDepth {
		return s.fail(off)
	}
	return nil
}

func (s *yamlDepthScanner) scan() error {
	s.line = 1
	blockScalar := -1 // indentation of the line that opened a block scalar, or -1
	for s.bol < len(s.data) {
		end := bytes.IndexByte(s.data[s.bol:], '\n')
		if end < 0 {
			end = len(s.data)
		} else {
			end += s.bol
		}
		line := s.data[s.bol:end]
		col := indentation(line)
		blank := col == len(line) || line[col] == '#' || line[col] == '\r'
		switch {
		case blockScalar >= 0 && (blank || col > blockScalar):
			// block scalar content
		case s.quote != 0 || s.flow > 0:
			blockScalar = -1
			if err := s.scanLine(s.bol, end, false); err != nil {
				return err
			}
		case blank, bytes.HasPrefix(line, []byte("---")), bytes.HasPrefix(line, []byte("...")), line[0] == '%':
			blockScalar = -1
		default:
			blockScalar = -1
			if err := s.scanLine(s.bol+col, end, true); err != nil {
				return err
			}
			if opensBlockScalar(line[col:]) {
				blockScalar = col
			}
		}
		s.bol = end + 1
		s.line++
	}
	return nil
}

// scanLine scans data[from:end] for quoted scalars, comments, flow
// collections and, when block is set (the line starts in block context),
// the block entries it opens.
func (s *yamlDepthScanner) scanLine(from, end int, block bool) error {
	valueStart := true // a node may start here
	key := -1          // offset where a block mapping key may start, or -1
	if block {
		key = from
	}
	for i := from; i < end; i++ {
		c := s.data[i]
		if s.quote != 0 {
			switch {
			case c == '\\' && s.quote == '"':
				i++
			case c == '\'' && s.quote == '\'' && i+1 < end && s.data[i+1] == '\'':
				i++ // '' inside a single-quoted scalar
			case c == s.quote:
				s.quote = 0
			}
			continue
		}
		spaceAfter := i+1 == end || s.data[i+1] == ' ' || s.data[i+1] == '\t' || s.data[i+1] == '\r'
		switch {
		case c == ' ' || c == '\t':
			continue
		case c == '#' && (i == from || s.data[i-1] == ' ' || s.data[i-1] == '\t'):
			return nil // comment
		case (c == '"' || c == '\'') && valueStart:
			s.quote = c
			valueStart = false
			continue
		case (c == '-' || c == '?') && key == i && spaceAfter:
			if err := s.enter(i, true); err != nil {
				return err
			}
			key = i + 1 + indentation(s.data[i+1:end])
			continue
		case c == ':' && key >= 0 && s.flow == 0 && spaceAfter:
			if err := s.enter(key, false); err != nil {
				return err
			}
			key = -1
			valueStart = true
			continue
		case c == ':' && s.flow > 0, c == ',':
			valueStart = true
			continue
		case (c == '[' || c == '{') && valueStart:
			s.flow++
			if len(s.block)+s.flow > maxDepth {
				return s.fail(i)
			}
			key = -1
			continue
		case (c == ']' || c == '}') && s.flow > 0:
			s.flow--
			valueStart = false
			continue
		}
		valueStart = false
	}
	return nil
}

// indentation counts the leading spaces of line.
func indentation(line []byte) int {
	n := 0
	for n < len(line) && line[n] == ' ' {
		n++
	}
	return n
}

// opensBlockScalar reports whether a line (without its indentation) ends in a
// block scalar header: '|' or '>' with optional indentation and chomping
// indicators, then an optional comment.
func opensBlockScalar(line []byte) bool {
	if i := bytes.Index(line, []byte(" #")); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t\r")
	i := len(line) - 1
	for i >= 0 && (line[i] == '-' || line[i] == '+' || (line[i] >= '0' && line[i] <= '9')) {
		i--
	}
	if i < 0 || (line[i] != '|' && line[i] != '>') {
		return false
	}
	return i == 0 || line[i-1] == ' '
}
