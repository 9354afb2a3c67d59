package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keel.dev/keel/pkg/apierrors"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/leaderelection"
	"keel.dev/keel/pkg/scheduler"
)

// candidate is a scheduler replica behind leader election.
type candidate struct {
	id      string
	s       *scheduler.Scheduler
	leading atomic.Bool
	cancel  context.CancelFunc
	done    chan struct{}
	leases  *partitionable
}

// partitionable is a lease client that can be cut off from the apiserver
// (while the scheduler's own client still works): the leader then cannot
// renew and must step down on its own.
type partitionable struct {
	leaderelection.LeaseClient
	cut atomic.Bool
}

var errPartitioned = apierrors.Unavailable("partitioned (test)")

func (p *partitionable) Get(ctx context.Context, name string) (*coordinationv1.Lease, error) {
	if p.cut.Load() {
		return nil, errPartitioned
	}
	return p.LeaseClient.Get(ctx, name)
}

func (p *partitionable) Create(ctx context.Context, l *coordinationv1.Lease, o client.CreateOptions) (*coordinationv1.Lease, error) {
	if p.cut.Load() {
		return nil, errPartitioned
	}
	return p.LeaseClient.Create(ctx, l, o)
}

func (p *partitionable) Update(ctx context.Context, l *coordinationv1.Lease, o client.UpdateOptions) (*coordinationv1.Lease, error) {
	if p.cut.Load() {
		return nil, errPartitioned
	}
	return p.LeaseClient.Update(ctx, l, o)
}

func (cl *cluster) startCandidate(id string) *candidate {
	t := cl.t
	c := newClient(t, cl.addr)
	f := informer.NewFactory(c, 0)
	s, err := scheduler.New(scheduler.Config{Informers: f, API: scheduler.ClientAPI(c), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Start(ctx)
	cd := &candidate{id: id, s: s, cancel: cancel, done: make(chan struct{}), leases: &partitionable{LeaseClient: c.Leases("kube-system")}}
	le, err := leaderelection.New(leaderelection.Config{
		Lock:          leaderelection.LeaseLock{Leases: cd.leases, Name: "keel-scheduler"},
		Identity:      id,
		LeaseDuration: 2 * time.Second, RenewDeadline: 1200 * time.Millisecond, RetryPeriod: 200 * time.Millisecond,
		Callbacks: leaderelection.Callbacks{OnStartedLeading: func(ctx context.Context) {
			cd.leading.Store(true)
			defer cd.leading.Store(false)
			if err := s.Run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("%s: %v", id, err)
			}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A candidate that loses the lease campaigns again, as the daemon does
	// when systemd restarts it (short leases under the race detector can
	// be lost to a slow renewal).
	go func() {
		defer close(cd.done)
		for ctx.Err() == nil {
			le.Run(ctx)
		}
	}()
	t.Cleanup(func() { cd.stop(); f.Shutdown() })
	return cd
}

func (cd *candidate) stop() {
	cd.cancel()
	<-cd.done
}

// bindingWatch records, for every pod, each change of spec.nodeName seen
// through a watch.
type bindingWatch struct {
	mu    sync.Mutex
	binds map[string][]string // pod -> nodes it was seen bound to, in order
}

func (cl *cluster) watchBindings() *bindingWatch {
	t := cl.t
	ctx, cancel := context.WithCancel(cl.ctx)
	w, err := cl.c.Pods("default").Watch(ctx, client.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bw := &bindingWatch{binds: map[string][]string{}}
	last := map[string]string{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := w.Next()
			if err != nil {
				return
			}
			name, node := ev.Object.GetMetadata().GetName(), ev.Object.GetSpec().GetNodeName()
			bw.mu.Lock()
			if node != last[name] {
				if node != "" {
					bw.binds[name] = append(bw.binds[name], node)
				}
				last[name] = node
			}
			bw.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return bw
}

func (bw *bindingWatch) bound() int {
	bw.mu.Lock()
	defer bw.mu.Unlock()
	return len(bw.binds)
}

func TestLeaderElectionNeverDoubleBinds(t *testing.T) {
	t.Run("clean handoff", func(t *testing.T) { testFailover(t, false) })
	t.Run("leader cut off from the lease", func(t *testing.T) { testFailover(t, true) })
}

// testFailover runs two candidates, creates pods, stops the leader
// halfway (cleanly, or by cutting it off from its lease so that it must
// notice and step down) and checks that every pod is bound exactly once.
func testFailover(t *testing.T, partition bool) {
	cl := newCluster(t)
	for i := range 4 {
		cl.createNode(nodeSpec{name: fmt.Sprintf("node-%d", i), cpu: "32", mem: "64Gi"})
	}
	bw := cl.watchBindings()
	a, b := cl.startCandidate("a"), cl.startCandidate("b")
	waitFor(t, 30*time.Second, func() bool { return a.leading.Load() || b.leading.Load() }, "a leader")
	leader, standby := a, b
	if b.leading.Load() {
		leader, standby = b, a
	}
	if standby.leading.Load() {
		t.Fatal("two leaders")
	}

	// Half the pods are created while the leader is stopped, the rest once
	// the standby leads.
	const total = 120
	created, takenOver := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(created)
		for i := range total {
			if i == total/2 {
				<-takenOver
			}
			p := makePod(podSpec{name: fmt.Sprintf("p-%03d", i), cpu: "10m"})
			if _, err := cl.c.Pods("default").Create(cl.ctx, p, client.CreateOptions{}); err != nil {
				t.Errorf("create: %v", err)
				return
			}
		}
	}()
	// Stop the leader while pods are still arriving and binding.
	waitFor(t, 30*time.Second, func() bool { return bw.bound() >= total/4 }, "a quarter of the pods bound")
	stopped := time.Now()
	if partition {
		leader.leases.cut.Store(true)
		waitFor(t, 10*time.Second, func() bool { return !leader.leading.Load() }, "the cut-off leader to step down")
		t.Logf("the cut-off leader stepped down after %v", time.Since(stopped))
	} else {
		leader.stop()
	}
	waitFor(t, 10*time.Second, standby.leading.Load, "the standby to take over")
	t.Logf("standby leads %v after the leader stopped", time.Since(stopped))
	close(takenOver)
	<-created
	waitFor(t, 60*time.Second, func() bool { return bw.bound() == total }, "every pod bound (have %d)", bw.bound())

	bw.mu.Lock()
	defer bw.mu.Unlock()
	for name, nodes := range bw.binds {
		if len(nodes) != 1 {
			t.Errorf("pod %s bound %d times: %v", name, len(nodes), nodes)
		}
	}
	// Every pod is bound in the API exactly where the watch saw it.
	list, err := cl.c.Pods("default").List(cl.ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		if got := bw.binds[p.GetMetadata().GetName()]; len(got) != 1 || got[0] != p.GetSpec().GetNodeName() {
			t.Errorf("pod %s on %q, watched %v", p.GetMetadata().GetName(), p.GetSpec().GetNodeName(), got)
		}
	}
	// Which replica bound what depends on timing (under load a leader can
	// lose a short lease and the other take over more than once); the
	// properties above are what matters.
	t.Logf("first leader %+v, standby %+v", leader.s.Stats(), standby.s.Stats())
}
