package podsync

import (
	"fmt"
	"strings"
	"time"
)

// Action is one step of a Plan. The executor performs a plan's actions in
// order; the contract of each type says what to do when one fails.
type Action interface {
	isAction()
	String() string
}

// CreateSandbox creates the pod's sandbox with this attempt number (one
// more than the last sandbox's). The StartContainer actions after it run in
// the sandbox it created; if it fails, the executor skips them.
type CreateSandbox struct {
	Attempt uint32
	// Reason says why: "" for the first sandbox, else why the last one is
	// replaced.
	Reason string
}

// StartContainer starts a container of the spec in the current sandbox:
// pull the image first when Pull (recording a pull back-off and an
// ErrImagePull start error on failure), create the container with restart
// count Attempt, start it. On success the executor clears the container's
// start error and the image's pull back-off; Backoff, when set, replaces
// the container's crash-loop back-off entry once the start is attempted.
// Init containers are named by their spec and have Init set.
type StartContainer struct {
	Name    string
	Init    bool
	Attempt uint32
	Image   string
	Pull    bool
	Backoff *BackoffEntry
}

// KillContainer stops a running container: SIGTERM, SIGKILL after Grace.
type KillContainer struct {
	ID    string
	Name  string
	Grace time.Duration
	// Reason and Message say why (Unhealthy, spec changed, ...).
	Reason  string
	Message string
}

// KillPod stops the listed containers, concurrently, each with its grace
// period, then stops the listed sandboxes (which releases the pod's
// network). It is how a pod terminates; errors are retried by a later sync.
type KillPod struct {
	Containers []KillContainer
	Sandboxes  []string
	Reason     string
}

// StopSandbox stops a sandbox (and whatever still runs in it).
type StopSandbox struct {
	ID string
}

// RemoveContainer removes an exited container instance (garbage
// collection of instances older than the previous one).
type RemoveContainer struct {
	ID   string
	Name string
}

// RemoveSandbox removes a stopped sandbox that no longer holds a container
// worth keeping.
type RemoveSandbox struct {
	ID string
}

// CleanupPod removes every sandbox (and so every container) of the pod,
// tears its volumes down, removes its logs and cgroups, and forgets its
// probes and back-off state. Only planned once nothing of the pod runs.
type CleanupPod struct{}

// DeletePod removes the pod object from the API with grace period 0 and
// its uid as precondition (NotFound or a uid conflict count as done).
// Planned after CleanupPod, for a pod being deleted gracefully.
type DeletePod struct{}

func (CreateSandbox) isAction()   {}
func (StartContainer) isAction()  {}
func (KillContainer) isAction()   {}
func (KillPod) isAction()         {}
func (StopSandbox) isAction()     {}
func (RemoveContainer) isAction() {}
func (RemoveSandbox) isAction()   {}
func (CleanupPod) isAction()      {}
func (DeletePod) isAction()       {}

func (a CreateSandbox) String() string {
	if a.Reason == "" {
		return fmt.Sprintf("CreateSandbox(attempt %d)", a.Attempt)
	}
	return fmt.Sprintf("CreateSandbox(attempt %d: %s)", a.Attempt, a.Reason)
}

func (a StartContainer) String() string {
	var b strings.Builder
	b.WriteString("Start")
	if a.Init {
		b.WriteString("Init")
	}
	fmt.Fprintf(&b, "(%s #%d", a.Name, a.Attempt)
	if a.Pull {
		fmt.Fprintf(&b, ", pull %s", a.Image)
	}
	if a.Backoff != nil {
		fmt.Fprintf(&b, ", next back-off %v", a.Backoff.Delay)
	}
	b.WriteString(")")
	return b.String()
}

func (a KillContainer) String() string {
	return fmt.Sprintf("Kill(%s %s, grace %v: %s)", a.Name, short(a.ID), a.Grace, a.Reason)
}

func (a KillPod) String() string {
	var names []string
	for _, c := range a.Containers {
		names = append(names, c.Name)
	}
	return fmt.Sprintf("KillPod(containers %v, %d sandboxes: %s)", names, len(a.Sandboxes), a.Reason)
}

func (a StopSandbox) String() string     { return "StopSandbox(" + short(a.ID) + ")" }
func (a RemoveContainer) String() string { return "Remove(" + a.Name + " " + short(a.ID) + ")" }
func (a RemoveSandbox) String() string   { return "RemoveSandbox(" + short(a.ID) + ")" }
func (CleanupPod) String() string        { return "CleanupPod" }
func (DeletePod) String() string         { return "DeletePod" }

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
