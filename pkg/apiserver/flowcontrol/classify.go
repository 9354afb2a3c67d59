// Package flowcontrol is the apiserver's overload protection, after
// Kubernetes' API Priority and Fairness: every request is classified by a
// flow schema into a priority level and a flow (its user); each level owns
// a share of the server's concurrency limit (--max-requests-inflight plus
// --max-mutating-requests-inflight) and queues what it cannot run at once,
// serving its flows in turn, so that one busy client neither starves
// another client nor another level. What does not fit in a bounded queue,
// or waits longer than the queue wait limit, is rejected at once, before
// any work is done, with a hint to retry later. Watches hold a seat only
// while their initial state is sent, and are counted apart (WatchLimiter).
//
// Classify is a pure function of the request's attributes; Controller
// holds the levels' seats and queues. Neither knows gRPC: the apiserver's
// interceptor asks them and maps rejections to errors.
package flowcontrol

import (
	"strings"

	"keel.dev/keel/pkg/auth"
)

// The priority levels, named as Kubernetes' suggested and mandatory
// configuration names them.
const (
	// LevelExempt is never limited nor queued: cluster administrators
	// (system:masters), so that an operator can always act.
	LevelExempt = "exempt"
	// LevelSystem serves the nodes (system:nodes): heartbeats, leases, the
	// status of their pods.
	LevelSystem = "system"
	// LevelLeaderElection serves the leader election of the scheduler, the
	// controller-manager and kube-system's service accounts.
	LevelLeaderElection = "leader-election"
	// LevelWorkloadHigh serves the scheduler, the controller-manager and
	// kube-system's service accounts.
	LevelWorkloadHigh = "workload-high"
	// LevelWorkloadLow serves every other service account.
	LevelWorkloadLow = "workload-low"
	// LevelGlobalDefault serves every other user.
	LevelGlobalDefault = "global-default"
	// LevelCatchAll serves what nothing above matched; it rejects rather
	// than queues.
	LevelCatchAll = "catch-all"
)

// Request is what classification looks at: who asks for what.
type Request struct {
	User   string
	Groups []string
	// Verb is the authorization verb (get, list, watch, create, update,
	// delete…).
	Verb string
	// Resource is the resource, with its subresource after a slash
	// ("nodes/status", "pods/binding").
	Resource  string
	Namespace string
	Name      string
}

// Classification is where a request goes: the flow schema that matched
// it, its priority level and its flow (the requests served in turn with
// other flows of the level).
type Classification struct {
	FlowSchema    string
	PriorityLevel string
	// FlowKey distinguishes flows inside the level: the user name
	// (Kubernetes' ByUser distinguisher); empty for the exempt level.
	FlowKey string
}

// Exempt reports whether the request skips limits and queues.
func (c Classification) Exempt() bool { return c.PriorityLevel == LevelExempt }

// flowSchema matches requests to a priority level. Schemas are tried in
// the order of schemas (Kubernetes' matchingPrecedence, lowest first); the
// first that matches wins.
type flowSchema struct {
	name  string
	level string
	// matches decides on the request; byUser makes the user the flow.
	matches func(r Request) bool
	byUser  bool
}

// kubeSystemServiceAccountPrefix prefixes the user names of kube-system's
// service accounts (the controllers' own identities).
const kubeSystemServiceAccountPrefix = auth.ServiceAccountUserPrefix + "kube-system:"

// schemas are the flow schemas of Kubernetes' suggested configuration that
// apply to Keel's API, in matching order.
var schemas = []flowSchema{
	{name: "exempt", level: LevelExempt, matches: func(r Request) bool { return inGroup(r, auth.GroupMasters) }},
	{name: "system-leader-election", level: LevelLeaderElection, byUser: true, matches: func(r Request) bool {
		return (r.User == auth.UserScheduler || r.User == auth.UserControllerManager || strings.HasPrefix(r.User, kubeSystemServiceAccountPrefix)) &&
			leaderElection(r)
	}},
	{name: "system-nodes", level: LevelSystem, byUser: true, matches: func(r Request) bool { return inGroup(r, auth.GroupNodes) }},
	{name: "kube-controller-manager", level: LevelWorkloadHigh, byUser: true, matches: func(r Request) bool { return r.User == auth.UserControllerManager }},
	{name: "kube-scheduler", level: LevelWorkloadHigh, byUser: true, matches: func(r Request) bool { return r.User == auth.UserScheduler }},
	{name: "kube-system-service-accounts", level: LevelWorkloadHigh, byUser: true, matches: func(r Request) bool {
		return strings.HasPrefix(r.User, kubeSystemServiceAccountPrefix)
	}},
	{name: "service-accounts", level: LevelWorkloadLow, byUser: true, matches: func(r Request) bool { return inGroup(r, auth.GroupServiceAccounts) }},
	{name: "global-default", level: LevelGlobalDefault, byUser: true, matches: func(r Request) bool {
		return inGroup(r, auth.GroupAuthenticated) || inGroup(r, auth.GroupUnauthenticated)
	}},
	{name: "catch-all", level: LevelCatchAll, byUser: true, matches: func(Request) bool { return true }},
}

// leaderElection: the reads and writes of a leader-election lock, a Lease
// (Keel elects its leaders on Leases only).
func leaderElection(r Request) bool {
	return r.Resource == "leases" && (r.Verb == "get" || r.Verb == "create" || r.Verb == "update")
}

func inGroup(r Request, group string) bool {
	for _, g := range r.Groups {
		if g == group {
			return true
		}
	}
	return false
}

// Classify returns the flow schema, priority level and flow of a request.
func Classify(r Request) Classification {
	for _, s := range schemas {
		if s.matches(r) {
			c := Classification{FlowSchema: s.name, PriorityLevel: s.level}
			if s.byUser {
				c.FlowKey = r.User
			}
			return c
		}
	}
	panic("flowcontrol: the catch-all schema matches every request")
}
