package apiserver_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/apiserver"
)

// seedConfigMaps creates cm-00 … cm-(n-1) in ns, labelled parity=even|odd
// and three=yes for multiples of three.
func seedConfigMaps(c *client, ns string, n int) []*corev1.ConfigMap {
	c.t.Helper()
	var out []*corev1.ConfigMap
	for i := 0; i < n; i++ {
		cm := configMap(ns, fmt.Sprintf("cm-%02d", i), map[string]string{"i": fmt.Sprint(i)})
		cm.Metadata.Labels = map[string]string{"parity": "odd"}
		if i%2 == 0 {
			cm.Metadata.Labels["parity"] = "even"
		}
		if i%3 == 0 {
			cm.Metadata.Labels["three"] = "yes"
		}
		out = append(out, mustCreate(c, cm))
	}
	return out
}

func TestListSelectors(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	ns := mustNamespace(c, "list")
	seedConfigMaps(c, ns, 12)
	mustCreate(c, configMap("default", "cm-00", nil)) // same name, other namespace

	for _, tc := range []struct {
		ns, label, field string
		want             []string
	}{
		{ns: ns, want: []string{"cm-00", "cm-01", "cm-02", "cm-03", "cm-04", "cm-05", "cm-06", "cm-07", "cm-08", "cm-09", "cm-10", "cm-11"}},
		{ns: ns, label: "parity=even", want: []string{"cm-00", "cm-02", "cm-04", "cm-06", "cm-08", "cm-10"}},
		{ns: ns, label: "parity=even,three=yes", want: []string{"cm-00", "cm-06"}},
		{ns: ns, label: "parity!=even,three", want: []string{"cm-03", "cm-09"}},
		{ns: ns, label: "parity in (odd),!three", want: []string{"cm-01", "cm-05", "cm-07", "cm-11"}},
		{ns: ns, label: "nosuch=label", want: []string{}},
		{ns: ns, field: "metadata.name=cm-07", want: []string{"cm-07"}},
		{ns: ns, field: "metadata.name!=cm-07", label: "three=yes", want: []string{"cm-00", "cm-03", "cm-06", "cm-09"}},
		{field: "metadata.name=cm-00", want: []string{"cm-00", "cm-00"}},
		{field: "metadata.namespace=default,metadata.name=cm-00", want: []string{"cm-00"}},
	} {
		items, _ := mustList[*corev1.ConfigMap](c, &apiv1.ListRequest{Namespace: tc.ns, LabelSelector: tc.label, FieldSelector: tc.field})
		if got := names(items); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ns %q label %q field %q: got %v, want %v", tc.ns, tc.label, tc.field, got, tc.want)
		}
	}

	// Pod fields.
	for _, name := range []string{"a", "b", "c"} {
		mustCreate(c, pod(ns, name, nil))
	}
	mustBind(c, ns, "a", "n1")
	mustBind(c, ns, "b", "n2")
	setPhase(c, ns, "b", "Running")
	for _, tc := range []struct{ field, want string }{
		{"spec.nodeName=n1", "a"},
		{"spec.nodeName=", "c"},
		{"status.phase=Running", "b"},
		{"status.phase=Pending", "a,c"},
		{"spec.nodeName!=,status.phase!=Running", "a"},
	} {
		items, _ := mustList[*corev1.Pod](c, &apiv1.ListRequest{Namespace: ns, FieldSelector: tc.field})
		if got := strings.Join(names(items), ","); got != tc.want {
			t.Errorf("pods %q: got %q, want %q", tc.field, got, tc.want)
		}
	}
}

func TestListBadSelectors(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	for _, tc := range []struct {
		resource, label, field string
		mention                string
	}{
		{resource: "configmaps", field: "spec.nodeName=n1", mention: "spec.nodeName"},
		{resource: "pods", field: "status.phase=Running,spec.bogus=1", mention: "spec.bogus"},
		{resource: "configmaps", label: "app in (web", mention: "app in (web"},
		{resource: "configmaps", label: "a b c", mention: "a b c"},
		{resource: "pods", field: "metadata.name", mention: "metadata.name"},
	} {
		for _, call := range []string{"list", "watch"} {
			var err error
			if call == "list" {
				_, err = c.api.List(c.ctx, &apiv1.ListRequest{Resource: tc.resource, LabelSelector: tc.label, FieldSelector: tc.field})
			} else {
				var s apiv1.API_WatchClient
				s, err = c.api.Watch(c.ctx, &apiv1.WatchRequest{Resource: tc.resource, LabelSelector: tc.label, FieldSelector: tc.field})
				if err == nil {
					_, err = s.Recv()
				}
			}
			wantCode(t, err, codes.InvalidArgument)
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("%s %s label %q field %q: error %q does not name %q", call, tc.resource, tc.label, tc.field, err, tc.mention)
			}
		}
	}
}

// TestListPagination: every page shows the first page's snapshot, served
// from the watch cache (default window) or, once the changes after the
// first page overflow the cache's window (window 2), from etcd.
func TestListPagination(t *testing.T) {
	t.Parallel()
	for _, window := range []int{0, 2} {
		t.Run(fmt.Sprintf("window %d", window), func(t *testing.T) {
			t.Parallel()
			testListPagination(t, window)
		})
	}
}

func testListPagination(t *testing.T, window int) {
	c := start(t, func(cfg *apiserver.Config) { cfg.WatchCacheWindow = window })
	ns := mustNamespace(c, "pages")
	seedConfigMaps(c, ns, 25)
	all, _ := mustList[*corev1.ConfigMap](c, &apiv1.ListRequest{Namespace: ns})

	// page reads every page with limit, changing the data after the first
	// page: later pages still show the first page's snapshot.
	page := func(label string, limit int64, mutate func()) []*corev1.ConfigMap {
		t.Helper()
		var got []*corev1.ConfigMap
		var rv, cont string
		for i := 0; ; i++ {
			items, resp, err := list[*corev1.ConfigMap](c, &apiv1.ListRequest{Namespace: ns, LabelSelector: label, Limit: limit, Continue: cont})
			if err != nil {
				t.Fatalf("page %d: %v", i, err)
			}
			if int64(len(items)) > limit {
				t.Fatalf("page %d: %d items, limit %d", i, len(items), limit)
			}
			if rv == "" {
				rv = resp.ResourceVersion
			} else if resp.ResourceVersion != rv {
				t.Fatalf("page %d: resourceVersion %s, first page had %s", i, resp.ResourceVersion, rv)
			}
			got = append(got, items...)
			if resp.Continue == "" {
				return got
			}
			if int64(len(items)) != limit {
				t.Fatalf("page %d: %d items but more follow (limit %d)", i, len(items), limit)
			}
			if i == 0 && mutate != nil {
				mutate()
			}
			cont = resp.Continue
		}
	}

	got := page("", 7, func() {
		deleteNow(c, "configmaps", ns, "cm-20")
		mustCreate(c, configMap(ns, "cm-99", nil))
		cm := mustGet[*corev1.ConfigMap](c, ns, "cm-15")
		cm.Data["i"] = "changed"
		mustUpdate(c, cm)
	})
	if len(got) != len(all) {
		t.Fatalf("pages hold %d objects %v, want %d", len(got), names(got), len(all))
	}
	for i := range all {
		assertEqual(t, fmt.Sprintf("object %d of the snapshot", i), all[i], got[i])
	}

	// After the changes: a selector, with items it drops not counted.
	now, _ := mustList[*corev1.ConfigMap](c, &apiv1.ListRequest{Namespace: ns, LabelSelector: "parity=even"})
	got = page("parity=even", 3, nil)
	if !reflect.DeepEqual(names(got), names(now)) {
		t.Fatalf("paged selection %v, want %v", names(got), names(now))
	}
	got = page("", 1, nil)
	if len(got) != 25 || names(got)[24] != "cm-99" {
		t.Fatalf("limit 1: %v", names(got))
	}
	got = page("", 1000, nil)
	if len(got) != 25 {
		t.Fatalf("one big page: %d items", len(got))
	}
}

func TestListBadContinue(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	ns := mustNamespace(c, "cont")
	seedConfigMaps(c, ns, 3)
	_, resp, err := list[*corev1.ConfigMap](c, &apiv1.ListRequest{Namespace: ns, Limit: 1})
	if err != nil || resp.Continue == "" {
		t.Fatalf("first page: %v, continue %q", err, resp.GetContinue())
	}
	for _, tc := range []struct {
		name string
		req  *apiv1.ListRequest
	}{
		{"garbage", &apiv1.ListRequest{Resource: "configmaps", Namespace: ns, Limit: 1, Continue: "not-a-token"}},
		{"truncated", &apiv1.ListRequest{Resource: "configmaps", Namespace: ns, Limit: 1, Continue: resp.Continue[:len(resp.Continue)/2]}},
		{"other namespace", &apiv1.ListRequest{Resource: "configmaps", Namespace: "default", Limit: 1, Continue: resp.Continue}},
		{"other resource", &apiv1.ListRequest{Resource: "secrets", Namespace: ns, Limit: 1, Continue: resp.Continue}},
		{"negative limit", &apiv1.ListRequest{Resource: "configmaps", Namespace: ns, Limit: -1}},
	} {
		_, err := c.api.List(c.ctx, tc.req)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: got %v, want InvalidArgument", tc.name, err)
		}
	}
}

// TestListExact: resourceVersionMatch Exact lists the state at exactly
// the version asked for (from the watch cache's window, or from etcd), a
// version not reached yet is refused with Timeout, and Exact needs a
// version.
func TestListExact(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	ns := mustNamespace(c, "exact")
	a := mustCreate(c, configMap(ns, "a", nil))
	b := mustCreate(c, configMap(ns, "b", nil))
	mustDelete(c, &apiv1.DeleteRequest{Resource: "configmaps", Namespace: ns, Name: "a"})
	_, now := mustList[*corev1.ConfigMap](c, &apiv1.ListRequest{Resource: "configmaps", Namespace: ns})
	for _, tc := range []struct {
		rv   string
		want []string
	}{
		{a.GetMetadata().GetResourceVersion(), []string{"a"}},
		{b.GetMetadata().GetResourceVersion(), []string{"a", "b"}},
		{now, []string{"b"}},
	} {
		items, rv := mustList[*corev1.ConfigMap](c, &apiv1.ListRequest{Resource: "configmaps", Namespace: ns, ResourceVersion: tc.rv, ResourceVersionMatch: "Exact"})
		if got := names(items); !reflect.DeepEqual(got, tc.want) || rv != tc.rv {
			t.Errorf("Exact at %s: got %v at %s, want %v", tc.rv, got, rv, tc.want)
		}
		// Pages of one keep the version.
		page, resp, err := list[*corev1.ConfigMap](c, &apiv1.ListRequest{Resource: "configmaps", Namespace: ns, ResourceVersion: tc.rv, ResourceVersionMatch: "Exact", Limit: 1})
		if err != nil || len(page) != 1 || page[0].GetMetadata().GetName() != tc.want[0] || resp.GetResourceVersion() != tc.rv {
			t.Errorf("Exact at %s, limit 1: %v %v at %s (%v)", tc.rv, names(page), resp.GetContinue(), resp.GetResourceVersion(), err)
		}
	}
	_, _, err := list[*corev1.ConfigMap](c, &apiv1.ListRequest{Resource: "configmaps", Namespace: ns, ResourceVersion: "0", ResourceVersionMatch: "Exact"})
	wantCode(t, err, codes.InvalidArgument)
	_, _, err = list[*corev1.ConfigMap](c, &apiv1.ListRequest{Resource: "configmaps", Namespace: ns, ResourceVersion: "99999999", ResourceVersionMatch: "Exact"})
	if err == nil || !strings.Contains(err.Error(), "Too large resource version") {
		t.Errorf("Exact at a future version: %v", err)
	}
	_, _, err = list[*corev1.ConfigMap](c, &apiv1.ListRequest{Resource: "configmaps", Namespace: ns, ResourceVersion: now, ResourceVersionMatch: "Newest"})
	wantCode(t, err, codes.InvalidArgument)
}
