package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"
	"gopkg.in/natefinch/lumberjack.v2"
)

var (
	eventTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "apiserver_audit_event_total",
		Help: "Audit events generated and sent to the audit backend.",
	})
	errorTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "apiserver_audit_error_total",
		Help: "Audit events that failed to be audited: dropped because the buffer was full, or not written.",
	}, []string{"plugin"})
)

// pluginLog is the plugin label of the log backend's errors.
const pluginLog = "log"

// DefaultBufferSize is how many events wait for the writer before new
// ones are dropped (Kubernetes' --audit-log-batch-buffer-size default).
const DefaultBufferSize = 10000

// LogOptions are the --audit-log-* flags.
type LogOptions struct {
	// Path is the log file; "-" is standard output.
	Path string
	// MaxSize is the size in megabytes at which the file is rotated;
	// MaxBackups how many rotated files are kept; MaxAge how many days.
	// All zero: the file is never rotated.
	MaxSize, MaxBackups, MaxAge int
}

// Open opens the log Path for appending (creating it mode 0600), through
// a rotating writer when a limit is set. It fails when the file cannot be
// opened, so that a bad path stops the apiserver at start.
func (o LogOptions) Open() (io.WriteCloser, error) {
	if o.Path == "-" {
		return nopCloser{os.Stdout}, nil
	}
	if o.MaxSize < 0 || o.MaxBackups < 0 || o.MaxAge < 0 {
		return nil, errors.New("--audit-log-maxsize, --audit-log-maxbackup and --audit-log-maxage must not be negative")
	}
	f, err := os.OpenFile(o.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--audit-log-path: %w", err)
	}
	if o.MaxSize == 0 && o.MaxBackups == 0 && o.MaxAge == 0 {
		return f, nil
	}
	f.Close()
	return &lumberjack.Logger{Filename: o.Path, MaxSize: o.MaxSize, MaxBackups: o.MaxBackups, MaxAge: o.MaxAge}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Writer writes events as JSON lines to an io.Writer from its own
// goroutine, so that the requests that produce them never wait on the
// disk. Its buffer is bounded: when it is full (the disk cannot keep up)
// further events are dropped, counted in apiserver_audit_error_total and
// logged (at most once a minute), as Kubernetes' batch mode drops them;
// the API keeps serving. Process is safe for concurrent use, also with
// Close: call Close once, when the API is no longer served, to write out
// what is buffered; events of requests still finishing are then dropped.
type Writer struct {
	out    io.WriteCloser
	events chan *Event
	done   chan struct{}
	log    *zap.Logger
	// closing guards events against a send after Close.
	closing sync.RWMutex
	closed  bool
	// mu guards the drop count and the time of the last warning.
	mu      sync.Mutex
	dropped int
	warned  time.Time
}

// NewWriter starts a Writer to out holding up to buffer events
// (DefaultBufferSize when not positive). Close closes out.
func NewWriter(out io.WriteCloser, buffer int, log *zap.Logger) *Writer {
	if buffer <= 0 {
		buffer = DefaultBufferSize
	}
	if log == nil {
		log = zap.NewNop()
	}
	w := &Writer{out: out, events: make(chan *Event, buffer), done: make(chan struct{}), log: log}
	go w.run()
	return w
}

// Process queues e for writing, or drops it when the buffer is full. e
// must not be changed afterwards.
func (w *Writer) Process(e *Event) {
	eventTotal.Inc()
	w.closing.RLock()
	defer w.closing.RUnlock()
	if w.closed {
		errorTotal.WithLabelValues(pluginLog).Inc()
		return
	}
	select {
	case w.events <- e:
	default:
		errorTotal.WithLabelValues(pluginLog).Inc()
		w.mu.Lock()
		w.dropped++
		if time.Since(w.warned) >= time.Minute {
			w.log.Error("audit buffer full: dropping events", zap.Int("dropped", w.dropped), zap.Int("buffer", cap(w.events)))
			w.warned, w.dropped = time.Now(), 0
		}
		w.mu.Unlock()
	}
}

// Close writes out the buffered events and closes the output.
func (w *Writer) Close() error {
	w.closing.Lock()
	w.closed = true
	close(w.events)
	w.closing.Unlock()
	<-w.done
	return w.out.Close()
}

// run encodes events until Close, flushing whenever the buffer is empty.
func (w *Writer) run() {
	defer close(w.done)
	bw := bufio.NewWriterSize(w.out, 64<<10)
	var line bytes.Buffer
	enc := json.NewEncoder(&line)
	enc.SetEscapeHTML(false)
	for e := range w.events {
		line.Reset()
		if err := enc.Encode(e); err != nil {
			w.failed(err)
			continue
		}
		// Whole lines only reach out, so that a rotation never splits one.
		if bw.Buffered() > 0 && bw.Available() < line.Len() {
			if err := bw.Flush(); err != nil {
				w.failed(err)
				bw.Reset(w.out)
			}
		}
		_, _ = bw.Write(line.Bytes()) // a failure shows in Flush
		if len(w.events) == 0 {
			if err := bw.Flush(); err != nil {
				w.failed(err)
				bw.Reset(w.out)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		w.failed(err)
	}
}

func (w *Writer) failed(err error) {
	errorTotal.WithLabelValues(pluginLog).Inc()
	w.log.Error("writing the audit log", zap.Error(err))
}
