package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// The CRI log format, one record per line, as containerd writes it:
//
//	<RFC3339Nano time> <stream> <tags> <content>\n
//
// stream is stdout or stderr; tags is ':'-separated, its first tag P for a
// partial record (the content continues in the next record of the same
// stream, the runtime split a long line or the line had no newline yet) or F
// for the full (last) part of a line. The content's own newline is not part
// of it.

// Record is one parsed line of a CRI log file.
type Record struct {
	Time    time.Time
	Stream  string // "stdout" or "stderr"
	Partial bool
	Content []byte // without the newline; aliases the parsed line
}

// ParseRecord parses one line of a CRI log file, without its newline.
func ParseRecord(line []byte) (Record, error) {
	var r Record
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return r, errors.New("no stream field")
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return r, err
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return r, errors.New("no tag field")
	}
	if s := string(stream); s != "stdout" && s != "stderr" {
		return r, errors.New("unknown stream " + s)
	}
	tags, content, _ := bytes.Cut(rest, []byte{' '})
	first, _, _ := bytes.Cut(tags, []byte{':'})
	switch string(first) {
	case "P":
		r.Partial = true
	case "F":
	default:
		return r, errors.New("unknown tag " + string(first))
	}
	r.Time, r.Stream, r.Content = t, string(stream), content
	return r, nil
}

// LogOptions select what ReadLog sends.
type LogOptions struct {
	// Follow keeps reading what is appended until Exited says the
	// container is gone (and its log is drained) or ctx ends.
	Follow bool
	// TailLines >= 0 starts with only the last TailLines lines; < 0 sends
	// the whole log.
	TailLines int64
	// Since, when not zero, drops lines logged before it.
	Since time.Time
	// LimitBytes > 0 stops after that many bytes of output.
	LimitBytes int64
	// Timestamps prefixes each line with its time (UTC, RFC 3339 with
	// nanoseconds of fixed width) and a space.
	Timestamps bool
	// Exited tells, in follow mode, whether the container has stopped
	// writing. Nil: follow until ctx ends.
	Exited func(ctx context.Context) bool
	// PollInterval is how often a followed log is checked for new data;
	// DefaultPollInterval when zero.
	PollInterval time.Duration
	// ChunkSize is the largest piece handed to send; DefaultChunkSize when
	// zero.
	ChunkSize int
}

const (
	// DefaultPollInterval is how often a followed log file is read again.
	DefaultPollInterval = 100 * time.Millisecond
	// DefaultChunkSize is the largest LogsChunk sent.
	DefaultChunkSize = 32 << 10
	// maxRawLine bounds a raw line kept while waiting for its newline.
	maxRawLine = 1 << 20
	// timestampFormat is RFC 3339 with fixed-width nanoseconds, so that
	// timestamps sort as text.
	timestampFormat = "2006-01-02T15:04:05.000000000Z07:00"
)

// blankTimestamp stands for the time of a line that has none (not in CRI
// format): as wide as a UTC timestamp.
var blankTimestamp = bytes.Repeat([]byte{' '}, len("2006-01-02T15:04:05.000000000Z"))

var errLimit = errors.New("limit reached")

// ReadLog reads the CRI log file at path and hands its content, decoded
// and filtered as opts say, to send in pieces of at most opts.ChunkSize.
// With Follow it keeps reading what is appended, polling every
// PollInterval, follows a rotation (the path renamed away and a new file
// created) or a truncation, and returns once opts.Exited reports the
// container gone and the file is drained, or when ctx ends (returning
// ctx's error). Records that do not parse are passed on whole, as lines.
func ReadLog(ctx context.Context, path string, opts LogOptions, send func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	r := &logReader{opts: opts, send: send, f: f, path: path}
	defer func() { r.f.Close() }()
	if r.opts.PollInterval <= 0 {
		r.opts.PollInterval = DefaultPollInterval
	}
	if r.opts.ChunkSize <= 0 {
		r.opts.ChunkSize = DefaultChunkSize
	}
	err = r.run(ctx)
	if errors.Is(err, errLimit) {
		err = r.flush()
	}
	return err
}

type logReader struct {
	opts LogOptions
	send func([]byte) error
	f    *os.File
	path string

	raw     []byte // bytes read but not yet a whole raw line
	partial []byte // content of a line whose records so far were P
	partTS  time.Time
	inLine  bool // partial holds a started line

	backlog bool     // reading what was there at the start (for tail)
	ring    [][]byte // the last TailLines lines of the backlog
	out     []byte   // output not yet sent
	written int64
}

func (r *logReader) run(ctx context.Context) error {
	r.backlog = r.opts.TailLines >= 0
	if err := r.readToEOF(); err != nil {
		return err
	}
	if !r.opts.Follow {
		if err := r.endLine(); err != nil {
			return err
		}
		if err := r.endBacklog(); err != nil {
			return err
		}
		return r.flush()
	}
	if err := r.endBacklog(); err != nil {
		return err
	}
	if err := r.flush(); err != nil {
		return err
	}
	t := time.NewTicker(r.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		exited := r.opts.Exited != nil && r.opts.Exited(ctx)
		if err := r.readToEOF(); err != nil {
			return err
		}
		if err := r.checkRotation(); err != nil {
			return err
		}
		if exited {
			if err := r.endLine(); err != nil {
				return err
			}
			return r.flush()
		}
		if err := r.flush(); err != nil {
			return err
		}
	}
}

// checkRotation switches to a new file at path once the open one was
// renamed away, and starts over when it was truncated.
func (r *logReader) checkRotation() error {
	cur, err := r.f.Stat()
	if err != nil {
		return err
	}
	fi, err := os.Stat(r.path)
	if err != nil {
		// Renamed away and not yet recreated: keep the old one.
		return nil
	}
	if !os.SameFile(cur, fi) {
		// Drain the old file (the runtime may have written to it until it
		// reopened), then read the new one from its start.
		if err := r.readToEOF(); err != nil {
			return err
		}
		nf, err := os.Open(r.path)
		if err != nil {
			return nil
		}
		r.f.Close()
		r.f, r.raw = nf, nil
		return r.readToEOF()
	}
	off, err := r.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if fi.Size() < off {
		if _, err := r.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		r.raw = nil
		return r.readToEOF()
	}
	return nil
}

// readToEOF reads what the file holds now and processes every whole raw
// line.
func (r *logReader) readToEOF() error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.f.Read(buf)
		if n > 0 {
			r.raw = append(r.raw, buf[:n]...)
			if err := r.lines(); err != nil {
				return err
			}
		}
		if err == io.EOF || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (r *logReader) lines() error {
	for {
		i := bytes.IndexByte(r.raw, '\n')
		if i < 0 {
			if len(r.raw) > maxRawLine {
				i = len(r.raw)
			} else {
				break
			}
		}
		line := r.raw[:i]
		if err := r.record(line); err != nil {
			return err
		}
		if i < len(r.raw) {
			i++
		}
		r.raw = r.raw[i:]
	}
	// Do not let the consumed prefix pin a large buffer.
	if cap(r.raw) > 4*DefaultChunkSize && len(r.raw) < DefaultChunkSize {
		r.raw = append([]byte(nil), r.raw...)
	}
	return nil
}

func (r *logReader) record(line []byte) error {
	rec, err := ParseRecord(line)
	if err != nil {
		// Not CRI format: pass the line on as it is.
		if err := r.endLine(); err != nil {
			return err
		}
		return r.line(time.Time{}, line, true)
	}
	if !r.inLine {
		r.inLine, r.partTS = true, rec.Time
		r.partial = r.partial[:0]
	}
	r.partial = append(r.partial, rec.Content...)
	if rec.Partial {
		return nil
	}
	r.inLine = false
	return r.line(r.partTS, r.partial, true)
}

// endLine sends a started line that never got its F record (the container
// ended without a newline).
func (r *logReader) endLine() error {
	if !r.inLine {
		return nil
	}
	r.inLine = false
	return r.line(r.partTS, r.partial, false)
}

// line handles one whole line.
func (r *logReader) line(ts time.Time, content []byte, newline bool) error {
	if !r.opts.Since.IsZero() && !ts.IsZero() && ts.Before(r.opts.Since) {
		return nil
	}
	n := len(content)
	if newline {
		n++
	}
	if r.opts.Timestamps {
		n += len(timestampFormat) + 1
	}
	b := make([]byte, 0, n)
	if r.opts.Timestamps {
		if ts.IsZero() {
			b = append(b, blankTimestamp...)
		} else {
			b = ts.UTC().AppendFormat(b, timestampFormat)
		}
		b = append(b, ' ')
	}
	b = append(b, content...)
	if newline {
		b = append(b, '\n')
	}
	if r.backlog {
		if r.opts.TailLines == 0 {
			return nil
		}
		if int64(len(r.ring)) == r.opts.TailLines {
			copy(r.ring, r.ring[1:])
			r.ring = r.ring[:len(r.ring)-1]
		}
		r.ring = append(r.ring, b)
		return nil
	}
	return r.write(b)
}

// endBacklog sends the lines kept for tail and switches to sending lines
// as they come.
func (r *logReader) endBacklog() error {
	if !r.backlog {
		return nil
	}
	r.backlog = false
	ring := r.ring
	r.ring = nil
	for _, b := range ring {
		if err := r.write(b); err != nil {
			return err
		}
	}
	return nil
}

func (r *logReader) write(b []byte) error {
	if lim := r.opts.LimitBytes; lim > 0 && r.written+int64(len(b)) >= lim {
		r.out = append(r.out, b[:lim-r.written]...)
		r.written = lim
		return errLimit
	}
	r.out = append(r.out, b...)
	r.written += int64(len(b))
	for len(r.out) >= r.opts.ChunkSize {
		if err := r.send(r.out[:r.opts.ChunkSize]); err != nil {
			return err
		}
		r.out = r.out[r.opts.ChunkSize:]
	}
	return nil
}

func (r *logReader) flush() error {
	for len(r.out) > 0 {
		n := min(len(r.out), r.opts.ChunkSize)
		if err := r.send(r.out[:n]); err != nil {
			return err
		}
		r.out = r.out[n:]
	}
	r.out = nil
	return nil
}
