// Package podsync is the kubelet's pod sync as a pure function: from a pod
// (its spec and last status), the state the container runtime reports for
// it, probe results, back-off state and the time, Compute derives the
// actions that bring the runtime closer to the spec, and the PodStatus to
// report. It does no I/O and keeps no state: the caller (the pod worker)
// observes, calls Compute, performs the actions through CRI, records their
// outcome (back-off entries, start errors) and calls Compute again.
//
// The semantics are Kubernetes': one sandbox per pod (a new one, with every
// container restarted, when it dies), init containers one at a time and in
// order, each to a successful exit, then every app container; restart
// policies Always, OnFailure and Never; crash-loop back-off; liveness and
// startup probe failures restart a container; imagePullPolicy; graceful
// termination; phase and conditions computed as the Kubernetes kubelet does.
package podsync

import (
	"time"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// ContainerState is a container's state as the runtime reports it.
type ContainerState int

const (
	StateUnknown ContainerState = iota
	StateCreated
	StateRunning
	StateExited
)

func (s ContainerState) String() string {
	switch s {
	case StateCreated:
		return "created"
	case StateRunning:
		return "running"
	case StateExited:
		return "exited"
	}
	return "unknown"
}

// Sandbox is one pod sandbox the runtime holds for the pod.
type Sandbox struct {
	ID        string
	Attempt   uint32
	Ready     bool
	IP        string // the pod IP; empty for host-network pods
	CreatedAt time.Time
}

// Container is one container instance the runtime holds for the pod.
type Container struct {
	ID        string
	SandboxID string
	Name      string
	// Attempt is the instance's restart count (CRI metadata attempt).
	Attempt uint32
	State   ContainerState
	// Hash is the hash of the container spec the instance was created from
	// (see Hash); a running instance whose hash differs from the spec's is
	// restarted.
	Hash       string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	ExitCode   int32
	// Reason is the runtime's reason for an exit: Completed, Error,
	// OOMKilled.
	Reason string
	// Message is the termination message, if any.
	Message  string
	Image    string // the image as the spec named it
	ImageRef string // the image ID
}

// RuntimePod is what the runtime holds for one pod. Compute does not rely
// on any order.
type RuntimePod struct {
	Sandboxes  []Sandbox
	Containers []Container
}

// Probe is the prober's view of the running instance of a container.
type Probe struct {
	// Ready: the readiness probe passed (or there is none and the
	// container has started).
	Ready bool
	// Started: the startup probe passed (or there is none).
	Started bool
	// Failed: the liveness or startup probe reached its failure
	// threshold; the container must be restarted. Message says why.
	Failed  bool
	Message string
}

// BackoffEntry is the crash-loop back-off state of one container of a pod,
// recorded when the container is restarted (StartContainer.Backoff).
type BackoffEntry struct {
	// Delay is the wait imposed after the next exit.
	Delay time.Duration
	// LastExit is when the instance that was last restarted had exited.
	LastExit time.Time
}

// PullBackoff is the back-off state of an image whose pull failed.
type PullBackoff struct {
	Delay   time.Duration
	Until   time.Time // no pull before then
	Message string    // the pull error
}

// StartError is the last failure to start a container (pull, create or
// start), shown in its waiting state until it starts.
type StartError struct {
	// Reason is ErrImagePull, CreateContainerError, RunContainerError...
	Reason  string
	Message string
	// Fresh marks an error of the current sync round (ErrImagePull is
	// shown rather than ImagePullBackOff).
	Fresh bool
}

// Config holds the tunables of the sync.
type Config struct {
	// BackoffInitial, BackoffMax: crash-loop back-off, 10s doubling to 5m.
	BackoffInitial, BackoffMax time.Duration
	// BackoffReset: a container that ran at least this long before
	// exiting restarts without delay and resets its back-off (10m).
	BackoffReset time.Duration
	// PullBackoffInitial, PullBackoffMax: image pull back-off.
	PullBackoffInitial, PullBackoffMax time.Duration
	// OrphanGrace is the grace period to stop containers of a pod the API
	// no longer knows (deleted while the kubelet was down).
	OrphanGrace time.Duration
	// RuntimeName prefixes container IDs in the status ("containerd");
	// the kubelet takes it from the runtime's Version when empty.
	RuntimeName string
}

// DefaultConfig is Kubernetes' tuning.
func DefaultConfig() Config {
	return Config{
		BackoffInitial:     10 * time.Second,
		BackoffMax:         5 * time.Minute,
		BackoffReset:       10 * time.Minute,
		PullBackoffInitial: 10 * time.Second,
		PullBackoffMax:     5 * time.Minute,
		OrphanGrace:        2 * time.Second,
	}
}

// Input is everything Compute looks at.
type Input struct {
	// Pod is the pod as last seen from the API; nil for an orphan (only
	// runtime state is known).
	Pod *corev1.Pod
	// Deleted: the pod is gone from the API (or is an orphan): stop and
	// remove everything, report no status.
	Deleted bool
	// Runtime is what the runtime holds for the pod.
	Runtime RuntimePod
	// Images maps the images present on the node (as pods name them) to
	// their IDs; only the pod's images need to be there.
	Images map[string]string
	// Probes are the probe states of running containers, by container ID.
	Probes map[string]Probe
	// Backoff is the crash-loop back-off per container name.
	Backoff map[string]BackoffEntry
	// PullBackoff is the pull back-off per image.
	PullBackoff map[string]PullBackoff
	// StartErrors are the last start failures per container name.
	StartErrors map[string]StartError
	// Previous is the status last computed (or read from the API after a
	// restart); nil at first.
	Previous *corev1.PodStatus
	// HostIP is the node's InternalIP.
	HostIP string
	Now    time.Time
	Config Config
}

// Plan is Compute's result.
type Plan struct {
	// Actions to perform, in order (see each type for its contract).
	Actions []Action
	// Status to report; nil when the pod is deleted.
	Status *corev1.PodStatus
	// RequeueAfter > 0 asks for another sync after that long at the latest
	// (a back-off or deadline expires).
	RequeueAfter time.Duration
	// Done: the pod is fully cleaned up (and removed from the API when it
	// had to be); its worker may stop.
	Done bool
}
