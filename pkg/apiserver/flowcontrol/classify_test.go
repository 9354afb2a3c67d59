package flowcontrol

import "testing"

func TestClassify(t *testing.T) {
	authed := func(groups ...string) []string { return append(groups, "system:authenticated") }
	sa := func(ns string) []string { return authed("system:serviceaccounts", "system:serviceaccounts:"+ns) }
	for _, tc := range []struct {
		name string
		req  Request
		want Classification
	}{
		{"cluster admin", Request{User: "admin", Groups: authed("system:masters"), Verb: "create", Resource: "pods", Namespace: "default"},
			Classification{FlowSchema: "exempt", PriorityLevel: LevelExempt}},
		{"loopback admin", Request{User: "system:anonymous-loopback", Groups: []string{"system:masters"}, Verb: "list", Resource: "pods"},
			Classification{FlowSchema: "exempt", PriorityLevel: LevelExempt}},
		{"node heartbeat", Request{User: "system:node:n1", Groups: authed("system:nodes"), Verb: "update", Resource: "leases", Namespace: "kube-node-lease", Name: "n1"},
			Classification{FlowSchema: "system-nodes", PriorityLevel: LevelSystem, FlowKey: "system:node:n1"}},
		{"node status", Request{User: "system:node:n1", Groups: authed("system:nodes"), Verb: "update", Resource: "nodes/status", Name: "n1"},
			Classification{FlowSchema: "system-nodes", PriorityLevel: LevelSystem, FlowKey: "system:node:n1"}},
		{"scheduler's lease", Request{User: "system:kube-scheduler", Groups: authed(), Verb: "update", Resource: "leases", Namespace: "kube-system", Name: "kube-scheduler"},
			Classification{FlowSchema: "system-leader-election", PriorityLevel: LevelLeaderElection, FlowKey: "system:kube-scheduler"}},
		{"controller-manager's lease", Request{User: "system:kube-controller-manager", Groups: authed(), Verb: "get", Resource: "leases", Namespace: "kube-system", Name: "kube-controller-manager"},
			Classification{FlowSchema: "system-leader-election", PriorityLevel: LevelLeaderElection, FlowKey: "system:kube-controller-manager"}},
		{"controller's lease in kube-system", Request{User: "system:serviceaccount:kube-system:cm", Groups: sa("kube-system"), Verb: "create", Resource: "leases", Namespace: "kube-system"},
			Classification{FlowSchema: "system-leader-election", PriorityLevel: LevelLeaderElection, FlowKey: "system:serviceaccount:kube-system:cm"}},
		{"scheduler watching leases is no election", Request{User: "system:kube-scheduler", Groups: authed(), Verb: "watch", Resource: "leases"},
			Classification{FlowSchema: "kube-scheduler", PriorityLevel: LevelWorkloadHigh, FlowKey: "system:kube-scheduler"}},
		{"scheduler binds", Request{User: "system:kube-scheduler", Groups: authed(), Verb: "create", Resource: "pods/binding", Namespace: "default", Name: "web"},
			Classification{FlowSchema: "kube-scheduler", PriorityLevel: LevelWorkloadHigh, FlowKey: "system:kube-scheduler"}},
		{"controller-manager creates pods", Request{User: "system:kube-controller-manager", Groups: authed(), Verb: "create", Resource: "pods", Namespace: "default"},
			Classification{FlowSchema: "kube-controller-manager", PriorityLevel: LevelWorkloadHigh, FlowKey: "system:kube-controller-manager"}},
		{"kube-system controller", Request{User: "system:serviceaccount:kube-system:replicaset-controller", Groups: sa("kube-system"), Verb: "list", Resource: "pods"},
			Classification{FlowSchema: "kube-system-service-accounts", PriorityLevel: LevelWorkloadHigh, FlowKey: "system:serviceaccount:kube-system:replicaset-controller"}},
		{"workload service account", Request{User: "system:serviceaccount:team:bot", Groups: sa("team"), Verb: "get", Resource: "configmaps", Namespace: "team"},
			Classification{FlowSchema: "service-accounts", PriorityLevel: LevelWorkloadLow, FlowKey: "system:serviceaccount:team:bot"}},
		{"workload service account's lease", Request{User: "system:serviceaccount:team:bot", Groups: sa("team"), Verb: "update", Resource: "leases", Namespace: "team"},
			Classification{FlowSchema: "service-accounts", PriorityLevel: LevelWorkloadLow, FlowKey: "system:serviceaccount:team:bot"}},
		{"user", Request{User: "alice", Groups: authed("devs"), Verb: "create", Resource: "deployments", Namespace: "default"},
			Classification{FlowSchema: "global-default", PriorityLevel: LevelGlobalDefault, FlowKey: "alice"}},
		{"bootstrap token", Request{User: "system:bootstrap:abcdef", Groups: authed("system:bootstrappers"), Verb: "create", Resource: "certificatesigningrequests"},
			Classification{FlowSchema: "global-default", PriorityLevel: LevelGlobalDefault, FlowKey: "system:bootstrap:abcdef"}},
		{"anonymous", Request{User: "system:anonymous", Groups: []string{"system:unauthenticated"}, Verb: "get", Resource: "namespaces"},
			Classification{FlowSchema: "global-default", PriorityLevel: LevelGlobalDefault, FlowKey: "system:anonymous"}},
		{"no group at all", Request{User: "odd", Verb: "get", Resource: "pods"},
			Classification{FlowSchema: "catch-all", PriorityLevel: LevelCatchAll, FlowKey: "odd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.req); got != tc.want {
				t.Errorf("Classify(%+v) = %+v, want %+v", tc.req, got, tc.want)
			}
		})
	}
}

// TestEveryLevelIsConfigured: each level a schema names is exempt or has
// seats.
func TestEveryLevelIsConfigured(t *testing.T) {
	c, err := New(Config{ConcurrencyLimit: 3})
	if err != nil {
		t.Fatal(err)
	}
	limits := c.Limits()
	for _, s := range schemas {
		if s.level != LevelExempt && limits[s.level] < 1 {
			t.Errorf("schema %s: level %s has no seats (%v)", s.name, s.level, limits)
		}
	}
}
