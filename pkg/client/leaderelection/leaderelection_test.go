package leaderelection_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/internal/clienttest"
	"keel.dev/keel/pkg/client/leaderelection"
)

// Short durations for tests: lease 2s, renew deadline 1.2s, retry 0.2s
// (shorter ones let a renewal that a loaded CI machine delays look like a
// lost lease).
const (
	leaseDuration = 2 * time.Second
	renewDeadline = 1200 * time.Millisecond
	retryPeriod   = 200 * time.Millisecond
)

// tracker records every candidate's leadership intervals, from
// OnStartedLeading to OnStoppedLeading.
type tracker struct {
	mu        sync.Mutex
	intervals []interval
}

type interval struct {
	id         string
	start, end time.Time // end zero while leading
}

func (tr *tracker) started(id string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.intervals = append(tr.intervals, interval{id: id, start: time.Now()})
}

func (tr *tracker) stopped(id string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i := len(tr.intervals) - 1; i >= 0; i-- {
		if tr.intervals[i].id == id && tr.intervals[i].end.IsZero() {
			tr.intervals[i].end = time.Now()
			return
		}
	}
}

// leader returns the current leader and when it started ("" if none).
func (tr *tracker) leader() (string, time.Time) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, iv := range tr.intervals {
		if iv.end.IsZero() {
			return iv.id, iv.start
		}
	}
	return "", time.Time{}
}

func (tr *tracker) lastEnd(id string) time.Time {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i := len(tr.intervals) - 1; i >= 0; i-- {
		if tr.intervals[i].id == id {
			return tr.intervals[i].end
		}
	}
	return time.Time{}
}

// checkNoOverlap fails if two leadership intervals ever overlapped.
func (tr *tracker) checkNoOverlap(t *testing.T) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	ivs := append([]interval(nil), tr.intervals...)
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].start.Before(ivs[j].start) })
	for i := 1; i < len(ivs); i++ {
		prev := ivs[i-1]
		if prev.end.IsZero() || ivs[i].start.Before(prev.end) {
			t.Fatalf("split brain: %s led from %v to %v, %s from %v", prev.id, prev.start.Format(time.StampMicro),
				prev.end.Format(time.StampMicro), ivs[i].id, ivs[i].start.Format(time.StampMicro))
		}
	}
}

// candidate runs one candidate until its context is cancelled or it loses
// the lease; the returned function cancels it and waits for Run to return.
func candidate(t *testing.T, c *client.Client, id string, tr *tracker, leaders chan<- string) (stop func(), done <-chan struct{}) {
	t.Helper()
	le, err := leaderelection.New(leaderelection.Config{
		Lock:          leaderelection.NewLeaseLock(c, "kube-system", "keel-test"),
		Identity:      id,
		LeaseDuration: leaseDuration,
		RenewDeadline: renewDeadline,
		RetryPeriod:   retryPeriod,
		Callbacks: leaderelection.Callbacks{
			OnStartedLeading: func(ctx context.Context) {
				tr.started(id)
				<-ctx.Done()
			},
			OnStoppedLeading: func() { tr.stopped(id) },
			OnNewLeader: func(identity string) {
				if leaders != nil {
					select {
					case leaders <- identity:
					default:
					}
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		le.Run(ctx)
	}()
	stop = func() {
		cancel()
		<-ch
	}
	t.Cleanup(stop)
	return stop, ch
}

func waitLeader(t *testing.T, tr *tracker, timeout time.Duration, not string) (string, time.Time) {
	t.Helper()
	var id string
	var at time.Time
	clienttest.Eventually(t, timeout, func() bool {
		id, at = tr.leader()
		return id != "" && id != not
	}, "no leader other than %q", not)
	return id, at
}

// TestTwoCandidatesRelease: one of two candidates leads; when it shuts down
// it releases the lease and the other takes over at once (well within a
// lease duration), never both at a time.
func TestTwoCandidatesRelease(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	tr := &tracker{}
	leaders := make(chan string, 16)
	stops := map[string]func(){}
	for _, id := range []string{"a", "b"} {
		stops[id], _ = candidate(t, clienttest.Client(t, a.Addr), id, tr, leaders)
	}
	first, _ := waitLeader(t, tr, 10*time.Second, "")
	select {
	case got := <-leaders:
		if got != first {
			t.Errorf("OnNewLeader(%q), leader is %q", got, first)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OnNewLeader call")
	}
	// Exactly one leads for a while.
	deadline := time.Now().Add(3 * leaseDuration)
	for time.Now().Before(deadline) {
		if id, _ := tr.leader(); id != first {
			t.Fatalf("leader changed from %q to %q without a failure", first, id)
		}
		tr.checkNoOverlap(t)
		time.Sleep(20 * time.Millisecond)
	}

	stops[first]()
	stoppedAt := tr.lastEnd(first)
	second, startedAt := waitLeader(t, tr, 10*time.Second, first)
	if d := startedAt.Sub(stoppedAt); d >= leaseDuration {
		t.Errorf("takeover after a release took %v, not less than the lease duration %v", d, leaseDuration)
	} else {
		t.Logf("%s released, %s took over %v later", first, second, d)
	}
	tr.checkNoOverlap(t)
}

// TestLeaderLosesItsAPIServer: each candidate talks to its own apiserver
// (one etcd). The leader's apiserver stops: its renewals fail, it steps
// down within the renew deadline, and the other takes over about one lease
// duration after the leader's last renewal. Leadership intervals never
// overlap.
func TestLeaderLosesItsAPIServer(t *testing.T) {
	etcd := testserver.StartEtcd(t)
	servers := map[string]*testserver.APIServer{
		"a": testserver.Start(t, etcd.Endpoint, nil),
		"b": testserver.Start(t, etcd.Endpoint, nil),
	}
	tr := &tracker{}
	done := map[string]<-chan struct{}{}
	for id, s := range servers {
		_, done[id] = candidate(t, clienttest.Client(t, s.Addr), id, tr, nil)
	}
	first, _ := waitLeader(t, tr, 10*time.Second, "")
	killedAt := time.Now()
	servers[first].Stop()

	// The old leader steps down on its own (Run returns)...
	select {
	case <-done[first]:
	case <-time.After(10 * time.Second):
		t.Fatal("the leader whose apiserver stopped did not step down")
	}
	if d := tr.lastEnd(first).Sub(killedAt); d > renewDeadline+retryPeriod+200*time.Millisecond {
		t.Errorf("stepped down %v after its apiserver stopped; the renew deadline is %v", d, renewDeadline)
	}
	// ...and the other takes over about one lease duration later.
	second, startedAt := waitLeader(t, tr, 10*time.Second, first)
	took := startedAt.Sub(killedAt)
	t.Logf("%s lost its apiserver; it stopped leading after %v, %s led after %v", first, tr.lastEnd(first).Sub(killedAt), second, took)
	if took > 2*leaseDuration {
		t.Errorf("takeover took %v, more than about one lease duration (%v)", took, leaseDuration)
	}
	tr.checkNoOverlap(t)

	// The old leader's apiserver comes back; as a fresh candidate it
	// stays a standby while the new leader renews.
	servers[first].Start()
	candidate(t, clienttest.Client(t, servers[first].Addr), first, tr, nil)
	deadline := time.Now().Add(3 * leaseDuration)
	for time.Now().Before(deadline) {
		if id, _ := tr.leader(); id != second {
			t.Fatalf("leader changed from %q to %q", second, id)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tr.checkNoOverlap(t)
}
