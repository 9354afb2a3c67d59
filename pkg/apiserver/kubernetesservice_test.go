package apiserver_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	keelapi "keel.dev/keel/pkg/api"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/kubernetesservice"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/storage"
)

// advertise configures an apiserver to keep the kubernetes Service as
// reachable at ip:6443, renewing its lease every 50ms for 1s.
func advertise(ip string) func(*apiserver.Config) {
	return func(cfg *apiserver.Config) {
		cfg.AuthorizationModes = slices.Clone(apiserver.DefaultAuthorizationModes)
		cfg.AdvertiseAddress, cfg.SecurePort = ip, 6443
		cfg.EndpointReconcileInterval, cfg.EndpointLeaseTTL = 50*time.Millisecond, time.Second
	}
}

// apiserverAddresses lists the kubernetes Endpoints as "ip:name/port"
// strings, or nil when they are missing.
func apiserverAddresses(c *client) []string {
	eps, err := get[*corev1.Endpoints](c, "default", "kubernetes")
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range eps.GetSubsets() {
		for _, a := range s.GetAddresses() {
			for _, p := range s.GetPorts() {
				out = append(out, fmt.Sprintf("%s:%s/%d", a.GetIp(), p.GetName(), p.GetPort()))
			}
		}
	}
	return out
}

// checkKubernetesService fails unless default/kubernetes is the API's
// Service: the range's first IP, https 443/TCP to 6443, no selector.
func checkKubernetesService(t *testing.T, svc *corev1.Service) {
	t.Helper()
	spec := svc.GetSpec()
	var ports []string
	for _, p := range spec.GetPorts() {
		ports = append(ports, fmt.Sprintf("%s %d/%s -> %d", p.GetName(), p.GetPort(), p.GetProtocol(), p.GetTargetPort().GetIntVal()))
	}
	if spec.GetClusterIp() != "10.96.0.1" || spec.GetType() != "ClusterIP" || len(spec.GetSelector()) != 0 ||
		!slices.Equal(ports, []string{"https 443/TCP -> 6443"}) {
		t.Errorf("kubernetes Service: clusterIP %q type %q selector %v ports %v; want 10.96.0.1 ClusterIP, none, [https 443/TCP -> 6443]",
			spec.GetClusterIp(), spec.GetType(), spec.GetSelector(), ports)
	}
	if l := svc.GetMetadata().GetLabels(); l["component"] != "apiserver" || l["provider"] != "kubernetes" {
		t.Errorf("kubernetes Service labels = %v", l)
	}
}

// apiserverSlice renders the EndpointSlice default/kubernetes as
// "ip,ip:portName/port" ("" if it cannot be read).
func apiserverSlice(c *client) string {
	s, err := get[*discoveryv1.EndpointSlice](c, "default", "kubernetes")
	if err != nil || len(s.GetPorts()) != 1 || s.GetMetadata().GetLabels()[keelapi.LabelServiceName] != "kubernetes" {
		return ""
	}
	var ips []string
	for _, e := range s.GetEndpoints() {
		if !e.GetConditions().GetReady() {
			return ""
		}
		ips = append(ips, e.GetAddresses()...)
	}
	p := s.GetPorts()[0]
	return fmt.Sprintf("%s:%s/%d", strings.Join(ips, ","), p.GetName(), p.GetPort())
}

func TestKubernetesService(t *testing.T) {
	t.Parallel()
	c := start(t, advertise("192.0.2.10"))

	// Both exist once the apiserver serves.
	checkKubernetesService(t, mustGet[*corev1.Service](c, "default", "kubernetes"))
	if got := apiserverAddresses(c); !slices.Equal(got, []string{"192.0.2.10:https/6443"}) {
		t.Fatalf("kubernetes Endpoints = %v, want [192.0.2.10:https/6443]", got)
	}
	if got := apiserverSlice(c); got != "192.0.2.10:https/6443" {
		t.Fatalf("kubernetes EndpointSlice = %q, want 192.0.2.10:https/6443", got)
	}

	// No other Service may take the reserved ClusterIP.
	other := service("default", "squatter", "ClusterIP")
	other.Spec.ClusterIp = "10.96.0.1"
	_, err := create(c, other)
	wantCode(t, err, codes.InvalidArgument)
	if err == nil || !strings.Contains(err.Error(), "reserved for the Service default/kubernetes") {
		t.Errorf("creating a Service on 10.96.0.1: %v, want it reserved for default/kubernetes", err)
	}

	// Deleted, they come back; the Service on the same ClusterIP (its
	// allocation was released with it and taken again).
	mustDelete(c, &apiv1.DeleteRequest{Resource: "services", Namespace: "default", Name: "kubernetes"})
	mustDelete(c, &apiv1.DeleteRequest{Resource: "endpoints", Namespace: "default", Name: "kubernetes"})
	mustDelete(c, &apiv1.DeleteRequest{Resource: "endpointslices", Namespace: "default", Name: "kubernetes"})
	eventually(t, "the kubernetes Service recreated", func() bool {
		_, err := get[*corev1.Service](c, "default", "kubernetes")
		return err == nil
	})
	checkKubernetesService(t, mustGet[*corev1.Service](c, "default", "kubernetes"))
	eventually(t, "the kubernetes Endpoints recreated", func() bool {
		return slices.Equal(apiserverAddresses(c), []string{"192.0.2.10:https/6443"}) && apiserverSlice(c) == "192.0.2.10:https/6443"
	})

	// Once right, they are left alone while the lease is renewed.
	svcRV := mustGet[*corev1.Service](c, "default", "kubernetes").GetMetadata().GetResourceVersion()
	epsRV := mustGet[*corev1.Endpoints](c, "default", "kubernetes").GetMetadata().GetResourceVersion()
	sliceRV := mustGet[*discoveryv1.EndpointSlice](c, "default", "kubernetes").GetMetadata().GetResourceVersion()
	leaseRevision := func() int64 {
		resp, err := c.etcd.Get(c.ctx, "/keel/apiserverleases/192.0.2.10:6443")
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("the apiserver's lease: %v %v", resp, err)
		}
		return resp.Kvs[0].ModRevision
	}
	first := leaseRevision()
	renewals := 0
	eventually(t, "three lease renewals", func() bool {
		if r := leaseRevision(); r != first {
			first, renewals = r, renewals+1
		}
		return renewals >= 3
	})
	if rv := mustGet[*corev1.Service](c, "default", "kubernetes").GetMetadata().GetResourceVersion(); rv != svcRV {
		t.Errorf("the kubernetes Service was rewritten (resourceVersion %s, then %s)", svcRV, rv)
	}
	if rv := mustGet[*corev1.Endpoints](c, "default", "kubernetes").GetMetadata().GetResourceVersion(); rv != epsRV {
		t.Errorf("the kubernetes Endpoints were rewritten (resourceVersion %s, then %s)", epsRV, rv)
	}
	if rv := mustGet[*discoveryv1.EndpointSlice](c, "default", "kubernetes").GetMetadata().GetResourceVersion(); rv != sliceRV {
		t.Errorf("the kubernetes EndpointSlice was rewritten (resourceVersion %s, then %s)", sliceRV, rv)
	}

	// Edits are undone: a port changed, an address added.
	svc := mustGet[*corev1.Service](c, "default", "kubernetes")
	svc.Spec.Ports[0].Port = 8443
	mustUpdate(c, svc)
	eps := mustGet[*corev1.Endpoints](c, "default", "kubernetes")
	eps.Subsets[0].Addresses = append(eps.Subsets[0].Addresses, &corev1.EndpointAddress{Ip: "192.0.2.99"})
	mustUpdate(c, eps)
	eventually(t, "the kubernetes Service and Endpoints restored", func() bool {
		svc, err := get[*corev1.Service](c, "default", "kubernetes")
		return err == nil && svc.GetSpec().GetPorts()[0].GetPort() == 443 &&
			slices.Equal(apiserverAddresses(c), []string{"192.0.2.10:https/6443"})
	})
}

func TestKubernetesServiceDisabledWithoutAdvertiseAddress(t *testing.T) {
	t.Parallel()
	c := start(t, func(cfg *apiserver.Config) {
		cfg.AuthorizationModes = slices.Clone(apiserver.DefaultAuthorizationModes)
	})
	if _, err := get[*corev1.Service](c, "default", "kubernetes"); err == nil {
		t.Error("the kubernetes Service exists without an advertise address")
	}
}

func TestKubernetesServiceBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  func(*apiserver.Config)
		want string
	}{
		{"not an IP", func(c *apiserver.Config) { c.AdvertiseAddress, c.SecurePort = "api.example", 6443 }, `advertise address "api.example" is not an IP address`},
		{"no port", func(c *apiserver.Config) { c.AdvertiseAddress = "192.0.2.1" }, "needs the secure port"},
		{"TTL below interval", func(c *apiserver.Config) { c.EndpointReconcileInterval, c.EndpointLeaseTTL = time.Minute, time.Second }, "must exceed the reconcile interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// New refuses the config before it uses the store.
			cfg := apiserver.Config{Store: (*storage.Etcd)(nil)}
			tc.cfg(&cfg)
			if _, err := apiserver.New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestKubernetesServiceHA runs two apiservers on one etcd: the Endpoints
// list both; an apiserver that stops withdraws its address at once (well
// before its lease expires); the lease of one that died (never renewed) is
// dropped once expired.
func TestKubernetesServiceHA(t *testing.T) {
	t.Parallel()
	e := testserver.StartEtcd(t)
	longLease := func(ip string) func(*apiserver.Config) {
		return func(cfg *apiserver.Config) {
			advertise(ip)(cfg)
			cfg.EndpointLeaseTTL = 10 * time.Minute
		}
	}
	a := newClient(t, testserver.Start(t, e.Endpoint, longLease("192.0.2.1")))
	bServer := testserver.Start(t, e.Endpoint, longLease("192.0.2.2"))
	both := []string{"192.0.2.1:https/6443", "192.0.2.2:https/6443"}
	eventually(t, "both apiservers listed", func() bool { return slices.Equal(apiserverAddresses(a), both) })
	checkKubernetesService(t, mustGet[*corev1.Service](a, "default", "kubernetes"))

	// An apiserver that died: its lease, never renewed, expires.
	dead := kubernetesservice.Lease{IP: "192.0.2.3", Port: 6443, Expires: time.Now().Add(3 * time.Second)}
	if _, err := a.etcd.Put(a.ctx, "/keel/apiserverleases/"+dead.Key(), string(dead.Encode())); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the dead apiserver listed until its lease expires", func() bool {
		return slices.Equal(apiserverAddresses(a), append(slices.Clone(both), "192.0.2.3:https/6443"))
	})
	eventually(t, "the dead apiserver dropped, its lease deleted", func() bool {
		resp, err := a.etcd.Get(a.ctx, "/keel/apiserverleases/"+dead.Key())
		return err == nil && len(resp.Kvs) == 0 && slices.Equal(apiserverAddresses(a), both)
	})

	bServer.Stop()
	eventually(t, "the stopped apiserver withdrawn", func() bool {
		return slices.Equal(apiserverAddresses(a), []string{"192.0.2.1:https/6443"})
	})
}
