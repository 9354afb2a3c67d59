package widget_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	testingv1 "keel.dev/keel/pkg/apis/testing/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	keelctlcmd "keel.dev/keel/pkg/keelctl/cmd"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	_ "keel.dev/keel/pkg/registry/all"
	"keel.dev/keel/pkg/registry/testing/widget"
	"keel.dev/keel/pkg/scheme"
)

// The one line that adds the kind: everything else Keel does with it comes
// from its package.
func init() { registry.Register(widget.Strategy) }

// TestWidgetThroughTheAPI drives the test kind through every verb of the
// API, with selectors, a watch and the status subresource, and prints it.
func TestWidgetThroughTheAPI(t *testing.T) {
	_, srv := testserver.StartAll(t, nil)
	c, err := client.New(client.Options{Servers: []string{srv.Addr}, Insecure: true, UserAgent: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if _, err := c.Namespaces().Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "shop"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	widgets := client.For[*testingv1.Widget](c, "shop")
	newWidget := func(name, color string, labels map[string]string) *testingv1.Widget {
		return &testingv1.Widget{Metadata: &metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: &testingv1.WidgetSpec{Color: color}, Status: &testingv1.WidgetStatus{Phase: widget.PhaseReady}}
	}

	// Create: defaults, generation, status dropped.
	red, err := widgets.Create(ctx, newWidget("red", "red", map[string]string{"app": "a"}), client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if red.GetSpec().GetSize() != 1 || red.GetMetadata().GetGeneration() != 1 || red.GetStatus().GetPhase() != "" {
		t.Fatalf("created %v: want size 1 (defaulted), generation 1, no status", red)
	}
	if _, err := widgets.Create(ctx, newWidget("blue", "blue", map[string]string{"app": "b"}), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Validation lists every bad field and stores nothing.
	bad := newWidget("bad", "purple", nil)
	bad.Spec.Size = proto.Int32(0)
	_, err = widgets.Create(ctx, bad, client.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.color") || !strings.Contains(err.Error(), "spec.size") {
		t.Fatalf("invalid widget: got %v, want Invalid naming spec.color and spec.size", err)
	}
	if _, err := widgets.Get(ctx, "bad"); !apierrors.IsNotFound(err) {
		t.Fatalf("invalid widget was stored: %v", err)
	}

	// List with label and field selectors.
	for _, c := range []struct{ label, field, want string }{
		{label: "app=a", want: "red"},
		{field: "spec.color=blue", want: "blue"},
		{field: "metadata.name=red", want: "red"},
	} {
		l, err := widgets.List(ctx, client.ListOptions{LabelSelector: c.label, FieldSelector: c.field})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != 1 || l.Items[0].GetMetadata().GetName() != c.want {
			t.Errorf("list %q %q: got %d items, want only %s", c.label, c.field, len(l.Items), c.want)
		}
	}
	if _, err := widgets.List(ctx, client.ListOptions{FieldSelector: "spec.size=1"}); err == nil {
		t.Error("a field selector the kind does not support was accepted")
	}

	// Watch the red one while it changes.
	w, err := widgets.Watch(ctx, client.WatchOptions{FieldSelector: "metadata.name=red", ResourceVersion: red.GetMetadata().GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// Update: a spec change bumps the generation, status is kept, an
	// immutable field is refused.
	upd := proto.Clone(red).(*testingv1.Widget)
	upd.Spec.Size = proto.Int32(3)
	upd.Status = &testingv1.WidgetStatus{Phase: widget.PhaseReady}
	red, err = widgets.Update(ctx, upd, client.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if red.GetMetadata().GetGeneration() != 2 || red.GetStatus().GetPhase() != "" {
		t.Fatalf("updated %v: want generation 2 and status unchanged", red)
	}
	upd = proto.Clone(red).(*testingv1.Widget)
	upd.Spec.Color = "green"
	if _, err := widgets.Update(ctx, upd, client.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("changing spec.color: got %v, want Invalid: field is immutable", err)
	}

	// Status subresource: only status changes, and it is validated.
	st := proto.Clone(red).(*testingv1.Widget)
	st.Status = &testingv1.WidgetStatus{Phase: widget.PhaseReady}
	st.Spec.Size = proto.Int32(9)
	red, err = widgets.UpdateStatus(ctx, st, client.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if red.GetStatus().GetPhase() != widget.PhaseReady || red.GetSpec().GetSize() != 3 {
		t.Fatalf("status update gave %v: want phase Ready and size still 3", red)
	}
	st = proto.Clone(red).(*testingv1.Widget)
	st.Status.Phase = "Broken"
	if _, err := widgets.UpdateStatus(ctx, st, client.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("bad phase: got %v, want Invalid", err)
	}

	// Delete.
	if _, _, err := widgets.Delete(ctx, "red", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for len(seen) < 3 {
		ev, err := w.Next()
		if err != nil {
			t.Fatalf("watch after %v: %v", seen, err)
		}
		if ev.Type != client.Bookmark {
			seen = append(seen, string(ev.Type)+":"+ev.Object.GetStatus().GetPhase())
		}
	}
	if got := strings.Join(seen, " "); got != "MODIFIED: MODIFIED:Ready DELETED:Ready" {
		t.Errorf("watch saw %q", got)
	}

	// Printing: keelctl's table and description come from the strategy.
	k, ok := scheme.ByResource("wd")
	if !ok || k.Kind != "Widget" {
		t.Fatalf("short name wd resolves to %v", k)
	}
	blue, err := widgets.Get(ctx, "blue")
	if err != nil {
		t.Fatal(err)
	}
	now := blue.GetMetadata().GetCreationTimestamp().AsTime().Add(90 * time.Second)
	rows := printers.Table(k, []proto.Message{blue}, printers.Options{Now: now})
	if got := strings.Join(rows[0], " ") + "|" + strings.Join(rows[1], " "); got != "NAME COLOR SIZE PHASE AGE|blue blue 1 <none> 90s" {
		t.Errorf("table: %q", got)
	}
	if d := printers.Describe(registry.DescribeInput{Object: blue, Now: now}); !strings.Contains(d, "Color:      blue\n") {
		t.Errorf("describe:\n%s", d)
	}
	if got := registry.InCategory("all"); got[len(got)-1].Info() != k {
		t.Errorf("the all category does not end with widgets")
	}

	// keelctl knows the kind from the registry alone: apply a manifest,
	// get (by short name and through the "all" category), describe,
	// scale, api-resources and explain.
	keelctl := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		c := &cmdutil.CLI{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" }}
		full := append([]string{"--config", filepath.Join(t.TempDir(), "none"), "--server", srv.Addr, "--insecure", "-n", "shop"}, args...)
		if code := keelctlcmd.Execute(ctx, c, full); code != 0 {
			t.Fatalf("keelctl %v: exit %d\n%s%s", args, code, out.String(), errOut.String())
		}
		return out.String()
	}
	dir := t.TempDir()
	manifest := filepath.Join(dir, "green.yaml")
	if err := os.WriteFile(manifest, []byte("apiVersion: testing.keel.dev/v1\nkind: Widget\nmetadata: {name: green}\nspec: {color: green, size: 2}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := keelctl("apply", "-f", manifest); out != "widget.testing.keel.dev/green created\n" {
		t.Errorf("apply: %q", out)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"get", "wd"}, []string{"NAME", "COLOR", "blue", "green"}},
		{[]string{"get", "all"}, []string{"widget.testing.keel.dev/blue", "widget.testing.keel.dev/green"}},
		{[]string{"describe", "widget", "green"}, []string{"Color:      green", "Size:       2"}},
		{[]string{"scale", "widget/green", "--replicas", "5"}, []string{"widget.testing.keel.dev/green scaled"}},
		{[]string{"get", "widgets.testing.keel.dev", "green"}, []string{"green   green   5"}},
		{[]string{"api-resources", "--api-group", "testing.keel.dev"}, []string{"widgets", "wd", "testing.keel.dev/v1", "Widget"}},
		{[]string{"explain", "widget.spec.color"}, []string{"Color of the widget"}},
	} {
		out := keelctl(c.args...)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("keelctl %v: no %q in\n%s", c.args, w, out)
			}
		}
	}
}
