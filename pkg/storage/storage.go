// Package storage is the apiserver's narrow seam to etcd: keyed byte values
// with optimistic concurrency on etcd revisions, side-effect keys written in
// the same transaction (IP and port allocations), and prefix watches.
//
// Every write is one etcd transaction guarded by a precondition: Create on
// the key not existing, Update and Delete on the key's ModRevision. Nothing
// here reads, modifies and writes without such a guard.
package storage

import (
	"context"
	"errors"
)

// Sentinel errors; callers test them with errors.Is. Conflicts on a side key
// are *SideKeyConflictError, which also matches ErrSideKeyExists.
var (
	ErrNotFound      = errors.New("storage: key not found")
	ErrExists        = errors.New("storage: key already exists")
	ErrConflict      = errors.New("storage: revision precondition failed")
	ErrSideKeyExists = errors.New("storage: side key already exists")
	ErrCompacted     = errors.New("storage: revision compacted")
	ErrUnavailable   = errors.New("storage: backend unavailable")
	// ErrTransform: a value could not be encrypted or decrypted (see
	// Transforming), e.g. its key is no longer configured.
	ErrTransform = errors.New("storage: value transformation failed")
)

// SideKeyConflictError names the side key that already existed.
type SideKeyConflictError struct{ Key string }

func (e *SideKeyConflictError) Error() string { return "storage: side key already exists: " + e.Key }
func (e *SideKeyConflictError) Is(target error) bool {
	return target == ErrSideKeyExists
}

// KeyValue is one stored value with its etcd revisions.
type KeyValue struct {
	Key            string
	Value          []byte
	CreateRevision int64
	ModRevision    int64
	// Stale: the value was read through a provider other than the one that
	// writes (see Transforming); writing it again, even unchanged, stores it
	// the current way.
	Stale bool
}

// Side is a key written in the same transaction as the main one: created
// (only if absent) or deleted. It carries allocations that must commit or fail
// with their object, such as a Service's ClusterIP.
type Side struct {
	Key    string
	Value  []byte // for creates
	Delete bool
}

// ListOptions select a page of a prefix.
type ListOptions struct {
	// Revision reads a snapshot at that revision; 0 reads the latest.
	Revision int64
	// StartKey, when set, starts the page at that key (inclusive).
	StartKey string
	// Limit caps the number of keys; 0 is unlimited.
	Limit int64
}

// ListResult is one page.
type ListResult struct {
	Items    []*KeyValue
	Revision int64 // the snapshot read
	More     bool  // keys remain after the last item
}

// EventType tells what a watch event is.
type EventType int

const (
	EventPut EventType = iota
	EventDelete
	// EventProgress carries only a revision: every change up to it has been
	// delivered.
	EventProgress
)

// Event is one change under a watched prefix. For EventDelete, Value holds
// the last value before the delete (PrevValue) and ModRevision the revision
// of the delete.
type Event struct {
	Type      EventType
	Key       string
	Value     []byte
	PrevValue []byte
	// ModRevision is the revision of this change (or, for progress, the
	// revision reached).
	ModRevision    int64
	CreateRevision int64
}

// Watch is a running watch.
type Watch interface {
	// Events delivers changes in revision order. It is closed when the watch
	// ends; Err then tells why (ErrCompacted when the start revision was
	// compacted away).
	Events() <-chan Event
	Err() error
	// RequestProgress asks for an EventProgress at the current revision.
	RequestProgress(ctx context.Context) error
	Stop()
}

// Interface is the storage seam. Implementations are safe for concurrent use.
// Create and Update make the key expire when their context carries a TTL
// (WithTTL).
type Interface interface {
	// Create writes key if it does not exist (ErrExists otherwise), along with
	// side keys (each must not exist: *SideKeyConflictError). It returns the
	// new revision.
	Create(ctx context.Context, key string, value []byte, sides ...Side) (int64, error)
	// Get reads one key (ErrNotFound if absent), linearizably.
	Get(ctx context.Context, key string) (*KeyValue, error)
	// List reads keys under prefix, sorted by key.
	List(ctx context.Context, prefix string, opts ListOptions) (*ListResult, error)
	// Update overwrites key if its ModRevision equals rev (ErrConflict
	// otherwise; ErrNotFound if it is gone), with side keys.
	Update(ctx context.Context, key string, rev int64, value []byte, sides ...Side) (int64, error)
	// Delete removes key if its ModRevision equals rev (0: any), with side keys.
	Delete(ctx context.Context, key string, rev int64, sides ...Side) (int64, error)
	// Watch streams changes under prefix after revision rev (rev+1 onward).
	Watch(ctx context.Context, prefix string, rev int64) Watch
	// Revision returns the store's current revision, linearizably.
	Revision(ctx context.Context) (int64, error)
	// Compact discards history before rev.
	Compact(ctx context.Context, rev int64) error
}
