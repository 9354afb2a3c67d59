package framework

import "fmt"

// StateKey names a plugin's data in a CycleState.
type StateKey string

// StateData is a plugin's per-cycle data. Clone must return a copy that
// can be changed without affecting the original (preemption evaluates
// what-ifs on clones).
type StateData interface {
	Clone() StateData
}

// CycleState holds the plugins' data for one pod's cycle. It is written by
// PreFilter and PreScore (on the cycle's goroutine) and only read by
// Filter and Score, which run in parallel; it needs no lock.
type CycleState struct {
	data map[StateKey]StateData
	// skipFilter / skipScore mark the plugins (by position in the
	// framework's lists) that returned Skip.
	skipFilter []bool
	skipScore  []bool
	// narrowed, when not nil, holds the only nodes the cycle filters (see
	// NarrowNodes); the others fail with narrowStatus.
	narrowed     map[string]struct{}
	narrowStatus *Status
	narrowPlugin string
}

// NarrowNodes, called by a PreFilter plugin, restricts the cycle to the
// named nodes (Kubernetes' PreFilterResult): only they are filtered and
// scored, and every other node fails with st (which should be
// UnschedulableAndUnresolvable) from plugin. Later calls narrow further.
func (c *CycleState) NarrowNodes(plugin string, names []string, st *Status) {
	next := make(map[string]struct{}, len(names))
	for _, n := range names {
		if _, ok := c.narrowed[n]; c.narrowed == nil || ok {
			next[n] = struct{}{}
		}
	}
	c.narrowed, c.narrowStatus, c.narrowPlugin = next, st, plugin
}

// NewCycleState returns an empty state.
func NewCycleState() *CycleState { return &CycleState{data: map[StateKey]StateData{}} }

// Read returns the data under key.
func (c *CycleState) Read(key StateKey) (StateData, error) {
	if d, ok := c.data[key]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("no cycle state under %q", key)
}

// Write stores data under key.
func (c *CycleState) Write(key StateKey, d StateData) { c.data[key] = d }

// Delete removes key.
func (c *CycleState) Delete(key StateKey) { delete(c.data, key) }

// Clone copies the state (each plugin's data through its Clone).
func (c *CycleState) Clone() *CycleState {
	if c == nil {
		return nil
	}
	out := &CycleState{data: make(map[StateKey]StateData, len(c.data))}
	for k, v := range c.data {
		if v != nil {
			out.data[k] = v.Clone()
		}
	}
	out.skipFilter = append([]bool(nil), c.skipFilter...)
	out.skipScore = append([]bool(nil), c.skipScore...)
	out.narrowed, out.narrowStatus, out.narrowPlugin = c.narrowed, c.narrowStatus, c.narrowPlugin // read only
	return out
}
