package cmdutil

import (
	"io"
	"sync"
)

// SyncWriter serializes writes to w, for commands that write from several
// goroutines (drain's evictions, logs' streams): each Write reaches w
// whole.
type SyncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewSyncWriter returns a SyncWriter writing to w.
func NewSyncWriter(w io.Writer) *SyncWriter { return &SyncWriter{w: w} }

// Write implements io.Writer.
func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
