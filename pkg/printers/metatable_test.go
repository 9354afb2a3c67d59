package printers_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/printers"
)

// table converts objs to a Table and back through its JSON, as kubectl
// receives it.
func table(t *testing.T, resource string, opts printers.TableOptions, objs ...proto.Message) *k8smetav1.Table {
	t.Helper()
	opts.Now = now
	tbl, err := printers.ToTable(kind(t, resource), objs, opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(tbl)
	if err != nil {
		t.Fatal(err)
	}
	var out k8smetav1.Table
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	if out.Kind != "Table" || out.APIVersion != "meta.k8s.io/v1" {
		t.Errorf("kind %q apiVersion %q, want Table meta.k8s.io/v1", out.Kind, out.APIVersion)
	}
	return &out
}

// header lists the column names, wide ones marked with a trailing "*",
// and checks the types and formats.
func header(t *testing.T, tbl *k8smetav1.Table) string {
	t.Helper()
	var names []string
	for _, c := range tbl.ColumnDefinitions {
		if c.Type != "string" {
			t.Errorf("column %s has type %q", c.Name, c.Type)
		}
		if (c.Name == "NAME") != (c.Format == "name") {
			t.Errorf("column %s has format %q", c.Name, c.Format)
		}
		if c.Priority == 1 {
			c.Name += "*"
		}
		names = append(names, c.Name)
	}
	return strings.Join(names, "|")
}

func cells(r k8smetav1.TableRow) string {
	var out []string
	for _, c := range r.Cells {
		out = append(out, c.(string))
	}
	return strings.Join(out, "|")
}

// partialMetadata decodes a row's object, checking it is a
// PartialObjectMetadata.
func partialMetadata(t *testing.T, r k8smetav1.TableRow) k8smetav1.PartialObjectMetadata {
	t.Helper()
	var m k8smetav1.PartialObjectMetadata
	dec := json.NewDecoder(strings.NewReader(string(r.Object.Raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("row object %s: %v", r.Object.Raw, err)
	}
	if m.Kind != "PartialObjectMetadata" || m.APIVersion != "meta.k8s.io/v1" {
		t.Errorf("row object is %s %s", m.APIVersion, m.Kind)
	}
	return m
}

func TestToTablePod(t *testing.T) {
	p := pod([]string{"app", "log"}, nil, "Running", []*corev1.ContainerStatus{running("app", true, 2), running("log", false, 0)}, nil)
	p.Metadata = &metav1.ObjectMeta{Name: "web-1", Namespace: "default", Uid: "u-1", ResourceVersion: "42", Generation: 1,
		CreationTimestamp: ago(3*time.Minute + 20*time.Second), Labels: map[string]string{"app": "web"}}
	p.Status.PodIp = "10.244.1.5"
	p.Spec.NodeName = "node-1"
	tbl := table(t, "pods", printers.TableOptions{}, p)
	if got, want := header(t, tbl), "NAME|READY|STATUS|RESTARTS|AGE|IP*|NODE*|NOMINATED NODE*|READINESS GATES*"; got != want {
		t.Errorf("columns %s, want %s", got, want)
	}
	if len(tbl.Rows) != 1 {
		t.Fatalf("%d rows, want 1", len(tbl.Rows))
	}
	if got, want := cells(tbl.Rows[0]), "web-1|1/2|Running|2|3m20s|10.244.1.5|node-1|<none>|<none>"; got != want {
		t.Errorf("cells %s, want %s", got, want)
	}
	m := partialMetadata(t, tbl.Rows[0])
	want := k8smetav1.ObjectMeta{Name: "web-1", Namespace: "default", UID: "u-1", ResourceVersion: "42", Generation: 1,
		CreationTimestamp: k8smetav1.NewTime(now.Add(-3*time.Minute - 20*time.Second)), Labels: map[string]string{"app": "web"}}
	got, _ := json.Marshal(m.ObjectMeta)
	if w, _ := json.Marshal(want); string(got) != string(w) {
		t.Errorf("row metadata %s, want %s", got, w)
	}
}

func TestToTableDeployment(t *testing.T) {
	d := &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(time.Hour)},
		Spec: &appsv1.DeploymentSpec{
			Replicas: proto.Int32(3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Image: "nginx:1.27"}}}},
		}, Status: &appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}}
	tbl := table(t, "deployments", printers.TableOptions{IncludeObject: k8smetav1.IncludeObject}, d)
	if got, want := header(t, tbl), "NAME|READY|UP-TO-DATE|AVAILABLE|AGE|CONTAINERS*|IMAGES*|SELECTOR*"; got != want {
		t.Errorf("columns %s, want %s", got, want)
	}
	if got, want := cells(tbl.Rows[0]), "web|2/3|3|2|60m|nginx|nginx:1.27|app=web"; got != want {
		t.Errorf("cells %s, want %s", got, want)
	}
	// includeObject=Object: the whole object, as the API writes it.
	var obj map[string]any
	if err := json.Unmarshal(tbl.Rows[0].Object.Raw, &obj); err != nil {
		t.Fatal(err)
	}
	if obj["kind"] != "Deployment" || obj["apiVersion"] != "apps/v1" {
		t.Errorf("row object is %v %v", obj["apiVersion"], obj["kind"])
	}
	if replicas := obj["spec"].(map[string]any)["replicas"]; replicas != float64(3) {
		t.Errorf("row object spec.replicas = %v (%T), want the number 3", replicas, replicas)
	}
}

func TestToTableNode(t *testing.T) {
	n := &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: "node-1", CreationTimestamp: ago(50 * time.Hour), Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}},
		Status: &corev1.NodeStatus{
			Conditions: []*corev1.NodeCondition{{Type: "Ready", Status: "True"}},
			Addresses:  []*corev1.NodeAddress{{Type: "InternalIP", Address: "10.0.0.21"}},
			NodeInfo:   &corev1.NodeSystemInfo{KubeletVersion: "v0.1.0", OsImage: "Debian GNU/Linux 13", KernelVersion: "6.12.0", ContainerRuntimeVersion: "containerd://2.1.0"},
		},
	}
	fresh := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "node-2", CreationTimestamp: ago(time.Second)}}
	tbl := table(t, "nodes", printers.TableOptions{IncludeObject: k8smetav1.IncludeNone}, n, fresh)
	if got, want := header(t, tbl), "NAME|STATUS|ROLES|AGE|VERSION|INTERNAL-IP*|EXTERNAL-IP*|OS-IMAGE*|KERNEL-VERSION*|CONTAINER-RUNTIME*"; got != want {
		t.Errorf("columns %s, want %s", got, want)
	}
	for i, want := range []string{
		"node-1|Ready|control-plane|2d2h|v0.1.0|10.0.0.21|<none>|Debian GNU/Linux 13|6.12.0|containerd://2.1.0",
		"node-2|Unknown|<none>|1s||<none>|<none>|<unknown>|<unknown>|<unknown>",
	} {
		if got := cells(tbl.Rows[i]); got != want {
			t.Errorf("row %d: cells %s, want %s", i, got, want)
		}
		if tbl.Rows[i].Object.Raw != nil {
			t.Errorf("row %d: includeObject=None, got object %s", i, tbl.Rows[i].Object.Raw)
		}
	}
	// A watch's later events carry rows only.
	if tbl := table(t, "nodes", printers.TableOptions{NoHeaders: true}, n); len(tbl.ColumnDefinitions) != 0 || len(tbl.Rows) != 1 {
		t.Errorf("NoHeaders: %d columns, %d rows; want 0 and 1", len(tbl.ColumnDefinitions), len(tbl.Rows))
	}
	if _, err := printers.ToTable(kind(t, "nodes"), []proto.Message{n}, printers.TableOptions{IncludeObject: "Everything"}); err == nil {
		t.Error("includeObject=Everything: no error")
	}
}
