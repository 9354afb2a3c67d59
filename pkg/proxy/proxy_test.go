package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/proxy"
	"keel.dev/keel/pkg/proxy/iptables"
)

type env struct {
	*controllertest.Env
	exec *iptables.Fake
	p    *proxy.Proxier
}

func start(t *testing.T, exec *iptables.Fake, cfg proxy.Config) *env {
	e := &env{exec: exec}
	cfg.Rules = iptables.Config{ClusterCIDR: "10.244.0.0/16", MasqueradeBit: 14}
	e.Env = controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		e.p = proxy.New(f, exec, cfg)
		return e.p.Run
	})
	return e
}

func (e *env) service(name string, port int32) *corev1.Service {
	e.T.Helper()
	svc, err := e.Client.Services("default").Create(e.Ctx, &corev1.Service{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &corev1.ServiceSpec{Selector: map[string]string{"app": name},
			Ports: []*corev1.ServicePort{{Protocol: "TCP", Port: port, TargetPort: api.IntOrStringFromInt(8080)}}},
	}, client.CreateOptions{})
	if err != nil {
		e.T.Fatal(err)
	}
	return svc
}

// endpoints writes the EndpointSlice name-1 of the Service name: ready
// endpoints at ips, then those at terminating (not ready, serving).
func (e *env) endpoints(name string, ips []string, terminating ...string) {
	e.T.Helper()
	sl := &discoveryv1.EndpointSlice{Metadata: &metav1.ObjectMeta{Name: name + "-1", Namespace: "default", Labels: map[string]string{api.LabelServiceName: name}},
		AddressType: api.AddressTypeIPv4, Ports: []*discoveryv1.EndpointPort{{Name: proto.String(""), Port: proto.Int32(8080), Protocol: proto.String("TCP")}}}
	for _, ip := range ips {
		sl.Endpoints = append(sl.Endpoints, &discoveryv1.Endpoint{Addresses: []string{ip},
			Conditions: &discoveryv1.EndpointConditions{Ready: proto.Bool(true), Serving: proto.Bool(true), Terminating: proto.Bool(false)}})
	}
	for _, ip := range terminating {
		sl.Endpoints = append(sl.Endpoints, &discoveryv1.Endpoint{Addresses: []string{ip},
			Conditions: &discoveryv1.EndpointConditions{Ready: proto.Bool(false), Serving: proto.Bool(true), Terminating: proto.Bool(true)}})
	}
	w := client.For[*discoveryv1.EndpointSlice](e.Client, "default")
	cur, err := w.Get(e.Ctx, sl.Metadata.Name)
	if err == nil {
		sl.Metadata = cur.GetMetadata()
		_, err = w.Update(e.Ctx, sl, client.UpdateOptions{})
	} else {
		_, err = w.Create(e.Ctx, sl, client.CreateOptions{})
	}
	if err != nil {
		e.T.Fatal(err)
	}
}

// applied waits until the last payload applied satisfies every want
// (a substring, or "!"+substring for one that must be absent).
func (e *env) applied(what string, want ...string) {
	e.T.Helper()
	e.Eventually(what, func() error {
		last := string(e.exec.Last())
		if last == "" {
			return errors.New("nothing applied yet")
		}
		for _, w := range want {
			if absent, ok := strings.CutPrefix(w, "!"); ok {
				if strings.Contains(last, absent) {
					return fmt.Errorf("the rules still hold %q", absent)
				}
			} else if !strings.Contains(last, w) {
				return fmt.Errorf("the rules lack %q", w)
			}
		}
		return nil
	})
}

func TestRulesFollowServicesAndEndpoints(t *testing.T) {
	e := start(t, &iptables.Fake{}, proxy.Config{MinSyncPeriod: 10 * time.Millisecond})
	e.Eventually("ready after the first sync", func() error { return e.p.Ready(e.Ctx) })

	svc := e.service("web", 80)
	ip := svc.GetSpec().GetClusterIp()
	e.applied("a service without endpoints rejected", ip+"/32", "REJECT", "!--to-destination")

	e.endpoints("web", []string{"10.244.1.5", "10.244.2.7"})
	e.applied("both endpoints behind the ClusterIP", "-d "+ip+"/32", "--to-destination 10.244.1.5:8080", "--to-destination 10.244.2.7:8080")

	// A terminating endpoint gets no traffic while one is ready, and keeps
	// it when none is.
	e.endpoints("web", []string{"10.244.2.7"}, "10.244.1.5")
	e.applied("a terminating endpoint left out", "--to-destination 10.244.2.7:8080", "!10.244.1.5")
	e.endpoints("web", nil, "10.244.1.5")
	e.applied("the terminating endpoint used when none is ready", "--to-destination 10.244.1.5:8080", "!10.244.2.7")

	e.endpoints("web", []string{"10.244.3.9"})
	e.applied("a replaced endpoint's rules gone", "--to-destination 10.244.3.9:8080", "!10.244.1.5", "!10.244.2.7")

	if got, ok := e.p.Service("default", "web"); !ok || got.GetSpec().GetClusterIp() != ip {
		t.Fatalf("the DNS source lacks the service: %v %v", got, ok)
	}
	if got := e.p.EndpointSlices("default", "web"); len(got) != 1 || got[0].GetMetadata().GetName() != "web-1" {
		t.Fatalf("the DNS source lacks the EndpointSlice: %v", got)
	}

	if _, _, err := e.Client.Services("default").Delete(e.Ctx, "web", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.applied("a deleted service's rules gone", "!"+ip+"/32", "!10.244.3.9")

	// The first sync restores everything; the changes after it, only what
	// changed.
	if full := e.exec.Full(); len(full) < 4 || !full[0] || slices.Contains(full[1:], true) {
		t.Errorf("restores full %v, want the first only", full)
	}
}

// syncs is the keel_proxy_syncs_total count of result in reg.
func syncs(reg *prometheus.Registry, result string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "keel_proxy_syncs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestFailedSyncIsRetriedAndNotReady(t *testing.T) {
	exec := &iptables.Fake{}
	exec.FailWith(errors.New("iptables-restore: injected failure"))
	reg := prometheus.NewRegistry()
	e := start(t, exec, proxy.Config{MinSyncPeriod: 10 * time.Millisecond, Registerer: reg})
	e.Eventually("failed syncs retried", func() error {
		if n := syncs(reg, "error"); n < 3 {
			return fmt.Errorf("%v failed syncs", n)
		}
		return nil
	})
	if err := e.p.Ready(e.Ctx); err == nil {
		t.Fatal("ready though every sync failed")
	}
	exec.FailWith(nil)
	e.Eventually("applied once the executor recovers", func() error {
		if exec.Last() == nil {
			return errors.New("not applied")
		}
		return nil
	})
	if err := e.p.Ready(e.Ctx); err != nil {
		t.Fatalf("not ready after a successful sync: %v", err)
	}
	if n := syncs(reg, "applied"); n < 1 {
		t.Errorf("keel_proxy_syncs_total{result=applied} = %v after a successful sync", n)
	}
}

func TestRulesReappliedEverySyncPeriod(t *testing.T) {
	exec := &iptables.Fake{}
	start(t, exec, proxy.Config{MinSyncPeriod: 10 * time.Millisecond, SyncPeriod: 50 * time.Millisecond}).
		Eventually("the unchanged rules applied again, in full", func() error {
			full := exec.Full()
			if slices.Contains(full, false) {
				return fmt.Errorf("a periodic sync was partial: %v", full)
			}
			if len(full) < 3 {
				return fmt.Errorf("applied %d times", len(full))
			}
			return nil
		})
}
