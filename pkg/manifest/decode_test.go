package manifest_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/manifest"
)

const deployHead = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
`

const podHead = `apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: c
`

// TestDecodeErrors checks the exact text of every error path: each case's
// want lists the whole ErrorList, one error per line.
func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		source string
		in     string
		want   []string
	}{{
		name:   "unknown field",
		source: "web.yaml",
		in:     deployHead + "  replica: 3\n",
		want:   []string{`web.yaml: spec.replica: unknown field`},
	}, {
		name:   "unknown field at depth",
		source: "web.yaml",
		in: deployHead + `  template:
    spec:
      containers:
      - name: web
        image: nginx
        ports:
        - containerPort: 80
          hostPortt: 8080
`,
		want: []string{`web.yaml: spec.template.spec.containers[0].ports[0].hostPortt: unknown field`},
	}, {
		name:   "field names are case-sensitive",
		source: "web.yaml",
		in:     deployHead + "  Replicas: 3\n",
		want:   []string{`web.yaml: spec.Replicas: unknown field`},
	}, {
		name:   "apiVersion and kind only at the top level",
		source: "web.yaml",
		in:     deployHead + "  kind: Deployment\n",
		want:   []string{`web.yaml: spec.kind: unknown field`},
	}, {
		name:   "integer given a string",
		source: "deploy.yaml",
		in: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n" + deployHead + `  template:
    spec:
      containers:
      - name: web
        ports:
        - containerPort: eighty
`,
		want: []string{`deploy.yaml (document 2): spec.template.spec.containers[0].ports[0].containerPort: expected integer, got string "eighty"`},
	}, {
		name:   "string given a number",
		source: "p.yaml",
		in:     podHead + "    image: 5\n",
		want:   []string{`p.yaml: spec.containers[0].image: expected string, got number 5`},
	}, {
		name:   "int32 out of range",
		source: "web.yaml",
		in:     deployHead + "  replicas: 3000000000\n",
		want:   []string{`web.yaml: spec.replicas: number 3000000000 is out of range for int32`},
	}, {
		name:   "int64 out of range",
		source: "p.yaml",
		in:     podHead + "  terminationGracePeriodSeconds: 9223372036854775808\n",
		want:   []string{`p.yaml: spec.terminationGracePeriodSeconds: number 9223372036854775808 is out of range for int64`},
	}, {
		name:   "float for an integer",
		source: "web.yaml",
		in:     deployHead + "  replicas: 1.5\n",
		want:   []string{`web.yaml: spec.replicas: expected integer, got number 1.5`},
	}, {
		name:   "boolean given a string",
		source: "web.yaml",
		in:     deployHead + "  paused: \"true\"\n",
		want:   []string{`web.yaml: spec.paused: expected boolean, got string "true"`},
	}, {
		name:   "boolean given a number",
		source: "web.yaml",
		in:     deployHead + "  paused: 1\n",
		want:   []string{`web.yaml: spec.paused: expected boolean, got number 1`},
	}, {
		name:   "list given a string",
		source: "p.yaml",
		in:     podHead + "    command: perl\n",
		want:   []string{`p.yaml: spec.containers[0].command: expected list, got string "perl"`},
	}, {
		name:   "list element of the wrong type",
		source: "p.yaml",
		in:     podHead + "    command: [perl, 5, {a: b}]\n",
		want: []string{
			`p.yaml: spec.containers[0].command[1]: expected string, got number 5`,
			`p.yaml: spec.containers[0].command[2]: expected string, got object`,
		},
	}, {
		name:   "map given a list",
		source: "web.yaml",
		in:     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels: [a, b]\n",
		want:   []string{`web.yaml: metadata.labels: expected object, got list`},
	}, {
		name:   "map<string,string> value not a string",
		source: "ns.yaml",
		in:     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels:\n    app: web\n    tier: 5\n    debug: true\n",
		want: []string{
			`ns.yaml: metadata.labels[debug]: expected string, got boolean true`,
			`ns.yaml: metadata.labels[tier]: expected string, got number 5`,
		},
	}, {
		name:   "message given a scalar",
		source: "web.yaml",
		in:     "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec: nothing\n",
		want:   []string{`web.yaml: spec: expected object, got string "nothing"`},
	}, {
		// A malformed quantity string decodes as written (the apiserver's
		// validation refuses it along with the object's other problems);
		// a quantity of the wrong JSON type is the decoder's error.
		name:   "quantity of the wrong type",
		source: "p.yaml",
		in:     podHead + "    resources:\n      limits:\n        cpu: true\n        memory: 64MB\n",
		want: []string{
			`p.yaml: spec.containers[0].resources.limits[cpu]: expected quantity (string or number), got boolean true`,
		},
	}, {
		name:   "int-or-string of the wrong type",
		source: "svc.yaml",
		in:     "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 80\n    targetPort: 1.5\n  - port: 81\n    targetPort: [1]\n  - port: 82\n    targetPort: 4294967296\n",
		want: []string{
			`svc.yaml: spec.ports[0].targetPort: expected integer or string, got number 1.5`,
			`svc.yaml: spec.ports[1].targetPort: expected integer or string, got list`,
			`svc.yaml: spec.ports[2].targetPort: number 4294967296 is out of range for int32`,
		},
	}, {
		name:   "bad timestamp",
		source: "ns.yaml",
		in:     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  creationTimestamp: yesterday\n  deletionTimestamp: 5\n",
		want: []string{
			`ns.yaml: metadata.creationTimestamp: invalid timestamp "yesterday": expected RFC 3339 such as "2006-01-02T15:04:05Z"`,
			`ns.yaml: metadata.deletionTimestamp: expected timestamp string, got number 5`,
		},
	}, {
		name:   "bad base64",
		source: "secret.yaml",
		in:     "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: not base64!\n  username: YWRtaW4=\n",
		want:   []string{`secret.yaml: data[password]: invalid base64: illegal base64 data at input byte 3`},
	}, {
		name:   "unknown kind",
		source: "x.yaml",
		in:     "apiVersion: apps/v1\nkind: Deploymnt\nmetadata:\n  name: a\n",
		want:   []string{`x.yaml: unknown kind "Deploymnt" for apiVersion "apps/v1"`},
	}, {
		name:   "kind under another apiVersion",
		source: "x.yaml",
		in:     "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata:\n  name: a\n",
		want:   []string{`x.yaml: unknown kind "Deployment" for apiVersion "extensions/v1beta1" (Deployment is served as apiVersion apps/v1)`},
	}, {
		name:   "kind in the wrong case",
		source: "x.yaml",
		in:     "apiVersion: apps/v1\nkind: deployment\n",
		want:   []string{`x.yaml: unknown kind "deployment" for apiVersion "apps/v1" (did you mean apps/v1 Deployment?)`},
	}, {
		name:   "missing kind",
		source: "x.yaml",
		in:     "apiVersion: v1\nmetadata:\n  name: a\n",
		want:   []string{`x.yaml: kind is missing`},
	}, {
		name:   "missing apiVersion and kind",
		source: "x.yaml",
		in:     "metadata:\n  name: a\n",
		want:   []string{`x.yaml: apiVersion is missing`, `x.yaml: kind is missing`},
	}, {
		name:   "kind not a string",
		source: "x.yaml",
		in:     "apiVersion: v1\nkind: [Pod]\n",
		want:   []string{`x.yaml: kind: expected string, got list`},
	}, {
		name:   "document not an object",
		source: "x.yaml",
		in:     "- apiVersion: v1\n",
		want:   []string{`x.yaml: expected object, got list`},
	}, {
		name:   "several errors in one document, all reported",
		source: "web.yaml",
		in: deployHead + `  replicas: three
  paused: maybe
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: true
      maxUnavail: 1
  template:
    metadata:
      labels:
        app: 1
    spec:
      containers:
      - name: web
        image: [nginx]
        ports:
        - containerPort: eighty
      restartPolicy: 7
`,
		want: []string{
			`web.yaml: spec.paused: expected boolean, got string "maybe"`,
			`web.yaml: spec.replicas: expected integer, got string "three"`,
			`web.yaml: spec.strategy.rollingUpdate.maxSurge: expected integer or string, got boolean true`,
			`web.yaml: spec.strategy.rollingUpdate.maxUnavail: unknown field`,
			`web.yaml: spec.template.metadata.labels[app]: expected string, got number 1`,
			`web.yaml: spec.template.spec.containers[0].image: expected string, got list`,
			`web.yaml: spec.template.spec.containers[0].ports[0].containerPort: expected integer, got string "eighty"`,
			`web.yaml: spec.template.spec.restartPolicy: expected string, got number 7`,
		},
	}, {
		name:   "errors in several documents",
		source: "all.yaml",
		in: "apiVersion: v1\nkind: Namespace\nmetadata:\n  nam: a\n---\n" +
			"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n---\n" +
			"apiVersion: v1\nkind: Nmespace\n",
		want: []string{
			`all.yaml (document 1): metadata.nam: unknown field`,
			`all.yaml (document 3): unknown kind "Nmespace" for apiVersion "v1"`,
		},
	}, {
		name:   "empty documents are not counted",
		source: "x.yaml",
		in:     "---\n# only a comment\n---\n---\napiVersion: v1\nkind: Namespace\nspec: 1\n",
		want:   []string{`x.yaml: spec: expected object, got number 1`},
	}, {
		name:   "YAML syntax error names the file line",
		source: "x.yaml",
		in:     "apiVersion: v1\nkind: Namespace\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n   labels: {}\n",
		want:   []string{`x.yaml (document 2): invalid YAML: line 8: mapping values are not allowed in this context`},
	}, {
		name:   "duplicate YAML key",
		source: "x.yaml",
		in:     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n",
		want:   []string{`x.yaml: invalid YAML: line 5: key "name" already set in map`},
	}, {
		name:   "duplicate JSON key",
		source: "x.json",
		in:     `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "name": "b"}}`,
		want:   []string{`x.json: metadata.name: duplicate field`},
	}, {
		name:   "JSON syntax error",
		source: "x.json",
		in:     "{\"apiVersion\": \"v1\",\n \"kind\": \"Namespace\",,\n}",
		want:   []string{`x.json: invalid JSON: line 2: invalid character ',' looking for beginning of object key string`},
	}, {
		name:   "truncated JSON",
		source: "x.json",
		in:     `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"`,
		want:   []string{`x.json: invalid JSON: unexpected end of input`},
	}, {
		name:   "error in a List item",
		source: "list.yaml",
		in: `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: a
- apiVersion: apps/v1
  kind: Deployment
  spec:
    replica: 1
- apiVersion: v1
  kind: Bogus
- apiVersion: v1
  kind: List
- 5
`,
		want: []string{
			`list.yaml: items[1].spec.replica: unknown field`,
			`list.yaml: items[2]: unknown kind "Bogus" for apiVersion "v1"`,
			`list.yaml: items[3]: a List may not contain another List`,
			`list.yaml: items[4]: expected object, got number 5`,
		},
	}, {
		name:   "unknown field of a List",
		source: "list.yaml",
		in:     "apiVersion: v1\nkind: List\nitem: []\n",
		want:   []string{`list.yaml: item: unknown field`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := manifest.Decode(tc.source, []byte(tc.in))
			if err == nil {
				t.Fatalf("no error; decoded %d objects", len(objs))
			}
			if objs != nil {
				t.Errorf("objects returned with an error: %v", objs)
			}
			var list manifest.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, not an ErrorList: %v", err, err)
			}
			if len(list) != len(tc.want) {
				t.Errorf("got %d errors, want %d", len(list), len(tc.want))
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	in := `apiVersion: v1
kind: Pod
metadata:
  name: p
  creationTimestamp: null
  generation: 9007199254740993
  deletionGracePeriodSeconds: 0
spec:
  terminationGracePeriodSeconds: null
  nodeSelector:
    disk: ""
    empty:
  containers:
  - name: c
    image: busybox
    resources:
      requests:
        cpu: 0.5
        memory: 1e3
      limits:
        cpu: 2
    ports:
    - containerPort: 80
      name: http
    readinessProbe:
      httpGet:
        port: http
        path: /healthz
    livenessProbe:
      tcpSocket:
        port: 8080
  volumes:
  - name: scratch
    emptyDir: {}
status:
  startTime: "2024-05-01T10:00:00.5+02:00"
`
	objs, err := manifest.Decode("p.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	p := one[*corev1.Pod](t, objs)
	eq(t, "Kind", objs[0].Kind.Kind, "Pod")
	eq(t, "Source", objs[0].Source, "p.yaml")
	md := p.GetMetadata()
	eq(t, "creationTimestamp unset", md.CreationTimestamp == nil, true)
	eq(t, "generation exact", md.GetGeneration(), int64(9007199254740993))
	eq(t, "explicit 0 of an optional field kept", md.DeletionGracePeriodSeconds != nil && *md.DeletionGracePeriodSeconds == 0, true)
	eq(t, "null optional left unset", p.GetSpec().TerminationGracePeriodSeconds == nil, true)
	eq(t, "nodeSelector entries", len(p.GetSpec().GetNodeSelector()), 2)
	c := p.GetSpec().GetContainers()[0]
	eq(t, "cpu number", c.GetResources().GetRequests()["cpu"].GetString_(), "0.5")
	eq(t, "memory number", c.GetResources().GetRequests()["memory"].GetString_(), "1000")
	eq(t, "cpu integer", c.GetResources().GetLimits()["cpu"].GetString_(), "2")
	hp := c.GetReadinessProbe().GetHttpGet().GetPort()
	eq(t, "named port type", hp.GetType(), int32(1))
	eq(t, "named port", hp.GetStrVal(), "http")
	eq(t, "tcp port", c.GetLivenessProbe().GetTcpSocket().GetPort().GetIntVal(), int32(8080))
	eq(t, "emptyDir: {} is set", p.GetSpec().GetVolumes()[0].GetEmptyDir() != nil, true)
	st := p.GetStatus().GetStartTime()
	eq(t, "startTime seconds", st.GetSeconds(), int64(1714550400))
	eq(t, "startTime nanos", st.GetNanos(), int32(500000000))

	// Rendered: explicit zero of the optional field, emptyDir {}, int64 exact,
	// timestamps in UTC with seconds precision.
	y, err := manifest.MarshalYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"deletionGracePeriodSeconds: 0\n",
		"generation: 9007199254740993\n",
		"  - emptyDir: {}\n",
		"startTime: \"2024-05-01T08:00:00Z\"\n",
		"        path: /healthz\n        port: http\n",
		"        port: 8080\n",
	} {
		if !strings.Contains(string(y), want) {
			t.Errorf("YAML lacks %q:\n%s", want, y)
		}
	}
}

func TestDecodeListAndStreams(t *testing.T) {
	yamlList := `apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: a
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: b
`
	jsonList := `{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
  {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "b"}}
]}`
	jsonStream := `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "b"}}
`
	yamlDocs := "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\n...\n"
	for name, in := range map[string]string{"yaml list": yamlList, "json list": jsonList, "json stream": jsonStream, "yaml documents": yamlDocs} {
		t.Run(name, func(t *testing.T) {
			objs, err := manifest.Decode("f", []byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != 2 {
				t.Fatalf("got %d objects", len(objs))
			}
			eq(t, "kind 0", objs[0].Kind.Kind, "Namespace")
			eq(t, "name 0", objs[0].Message.(*corev1.Namespace).GetMetadata().GetName(), "a")
			eq(t, "kind 1", objs[1].Kind.Kind, "Deployment")
			eq(t, "name 1", objs[1].Message.(*appsv1.Deployment).GetMetadata().GetName(), "b")
		})
	}
	objs, err := manifest.Decode("docs.yaml", []byte(yamlDocs))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "source of document 2", objs[1].Source, "docs.yaml (document 2)")

	for _, in := range []string{"", "\n# nothing\n", "---\n---\n"} {
		objs, err := manifest.Decode("empty.yaml", []byte(in))
		if err != nil || len(objs) != 0 {
			t.Errorf("Decode(%q) = %v, %v; want nothing", in, objs, err)
		}
	}
}

func TestDecodeInto(t *testing.T) {
	// A non-kind message: apiVersion/kind would be ordinary (unknown) fields.
	var om metav1.ObjectMeta
	if err := manifest.DecodeInto([]byte(`{"name": "a", "labels": {"x": "y"}, "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "controller": false}]}`), &om); err != nil {
		t.Fatal(err)
	}
	eq(t, "name", om.GetName(), "a")
	eq(t, "ownerReferences[0].kind", om.GetOwnerReferences()[0].GetKind(), "ReplicaSet")
	eq(t, "controller explicitly false", om.GetOwnerReferences()[0].Controller != nil, true)

	err := manifest.DecodeInto([]byte(`{"kind": "Pod", "nme": "a"}`), &om)
	eq(t, "error", errString(err), "kind: unknown field\nnme: unknown field")

	// DecodeInto replaces the previous contents.
	if err := manifest.DecodeInto([]byte(`{"namespace": "n"}`), &om); err != nil {
		t.Fatal(err)
	}
	eq(t, "reset", proto.Equal(&om, &metav1.ObjectMeta{Namespace: "n"}), true)

	// A kind: apiVersion/kind optional but checked; YAML accepted as well.
	var d appsv1.Deployment
	if err := manifest.DecodeInto([]byte(`{"metadata": {"name": "web"}, "spec": {"replicas": 2}}`), &d); err != nil {
		t.Fatal(err)
	}
	eq(t, "replicas", d.GetSpec().GetReplicas(), int32(2))
	if err := manifest.DecodeInto([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"), &d); err != nil {
		t.Fatal(err)
	}
	eq(t, "name", d.GetMetadata().GetName(), "web")
	err = manifest.DecodeInto([]byte(`{"apiVersion": "v1", "kind": "Deployment", "spec": {"replicas": "2"}}`), &d)
	eq(t, "mismatch", errString(err), "apiVersion: expected \"apps/v1\", got \"v1\"\nspec.replicas: expected integer, got string \"2\"")
	err = manifest.DecodeInto([]byte(`[1]`), &d)
	eq(t, "not an object", errString(err), "expected object, got list")
	err = manifest.DecodeInto([]byte("  \n"), &d)
	eq(t, "empty", errString(err), "empty document")
}

// TestScalarKinds covers the scalar kinds the Keel types do not use yet
// (unsigned, float), on the well-known wrapper messages.
func TestScalarKinds(t *testing.T) {
	tests := []struct {
		in   string
		m    proto.Message
		want proto.Message
		err  string
	}{
		{in: `{"value": 4294967295}`, m: &wrapperspb.UInt32Value{}, want: wrapperspb.UInt32(4294967295)},
		{in: `{"value": 4294967296}`, m: &wrapperspb.UInt32Value{}, err: "value: number 4294967296 is out of range for uint32"},
		{in: `{"value": -1}`, m: &wrapperspb.UInt64Value{}, err: "value: number -1 is out of range for uint64"},
		{in: `{"value": 18446744073709551615}`, m: &wrapperspb.UInt64Value{}, want: wrapperspb.UInt64(18446744073709551615)},
		{in: `{"value": 1.5}`, m: &wrapperspb.UInt64Value{}, err: "value: expected integer, got number 1.5"},
		{in: `{"value": 1.5}`, m: &wrapperspb.DoubleValue{}, want: wrapperspb.Double(1.5)},
		{in: `{"value": 2}`, m: &wrapperspb.FloatValue{}, want: wrapperspb.Float(2)},
		{in: `{"value": 1e39}`, m: &wrapperspb.FloatValue{}, err: "value: number 1e39 is out of range for float32"},
		{in: `{"value": "1"}`, m: &wrapperspb.DoubleValue{}, err: `value: expected number, got string "1"`},
		{in: `{"value": "aGk="}`, m: &wrapperspb.BytesValue{}, want: wrapperspb.Bytes([]byte("hi"))},
		{in: `{"value": 5}`, m: &wrapperspb.BytesValue{}, err: "value: expected base64 string, got number 5"},
	}
	for _, tc := range tests {
		err := manifest.DecodeInto([]byte(tc.in), tc.m)
		if tc.err != "" {
			eq(t, tc.in, errString(err), tc.err)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !proto.Equal(tc.m, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.in, tc.m, tc.want)
		}
		j, err := manifest.MarshalJSON(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		back := tc.m.ProtoReflect().New().Interface()
		if err := manifest.DecodeInto(j, back); err != nil || !proto.Equal(back, tc.want) {
			t.Errorf("%s: round trip through %s: %v %v", tc.in, j, back, err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestYAMLFlowMapping: a file starting with '{' that is YAML, not JSON, is
// still read.
func TestYAMLFlowMapping(t *testing.T) {
	objs, err := manifest.Decode("ns.yaml", []byte("{apiVersion: v1, kind: Namespace, metadata: {name: a}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "name", one[*corev1.Namespace](t, objs).GetMetadata().GetName(), "a")
}

// A null quantity in a resource list is 0, as in Kubernetes, and renders
// as a quantity that decodes again (found by FuzzDecode).
func TestDecodeNullQuantity(t *testing.T) {
	objs, err := manifest.Decode("p.yaml", []byte(podHead+"    resources:\n      requests:\n        cpu: null\n        memory: 1Mi\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := one[*corev1.Pod](t, objs)
	eq(t, "null cpu", p.GetSpec().GetContainers()[0].GetResources().GetRequests()["cpu"].GetString_(), "0")
	y, err := manifest.MarshalYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := manifest.Decode("again.yaml", y); err != nil {
		t.Errorf("rendered pod does not decode: %v\n%s", err, y)
	}
}

// TestLastLineWithoutNewline: a last line without a newline is read whatever
// its length (apimachinery's YAML reader drops one whose length is a
// multiple of 4096).
func TestLastLineWithoutNewline(t *testing.T) {
	for _, n := range []int{4095, 4096, 8192} {
		head := "{apiVersion: v1, kind: Namespace, metadata: {name: a}, x: "
		in := head + `"` + strings.Repeat("y", n-len(head)-3) + `"}`
		if len(in) != n {
			t.Fatalf("input is %d bytes, want %d", len(in), n)
		}
		_, err := manifest.Decode("ns.yaml", []byte(in))
		if want := "ns.yaml: x: unknown field"; errString(err) != want {
			t.Errorf("%d bytes: got %v, want %s", n, err, want)
		}
	}
}

// TestHasUnknownKind: an unknown apiVersion and kind is marked (so that
// keelctl can look for custom resources), other problems are not.
func TestHasUnknownKind(t *testing.T) {
	_, err := manifest.Decode("x.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: b}\n"))
	if !manifest.HasUnknownKind(err) {
		t.Errorf("an unknown kind is not marked: %v", err)
	}
	_, err = manifest.Decode("x.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nnope: 1\n"))
	if err == nil || manifest.HasUnknownKind(err) {
		t.Errorf("an unknown field is marked as an unknown kind: %v", err)
	}
}

// TestSelfLinkIsDropped: metadata.selfLink, which old clusters wrote into
// saved manifests and Kubernetes still declares, decodes to nothing (not
// an unknown field); an unknown field beside it still fails.
func TestSelfLinkIsDropped(t *testing.T) {
	objs, err := manifest.Decode("ns.yaml", []byte("{apiVersion: v1, kind: Namespace, metadata: {name: a, selfLink: /api/v1/namespaces/a}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "name", one[*corev1.Namespace](t, objs).GetMetadata().GetName(), "a")
	_, err = manifest.Decode("ns.yaml", []byte("{apiVersion: v1, kind: Namespace, metadata: {name: a, selfLink: x, selfLinks: y}}\n"))
	if want := "ns.yaml: metadata.selfLinks: unknown field"; errString(err) != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
