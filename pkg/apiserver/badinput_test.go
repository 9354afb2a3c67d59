package apiserver_test

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/scheme"
)

// TestInvalidObjectsListEveryField: validation reports every bad field in
// the BadRequest details, and nothing is stored.
func TestInvalidObjectsListEveryField(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	for _, tc := range []struct {
		name   string
		obj    proto.Message
		fields []string
	}{
		{"pod", fromYAML[*corev1.Pod](t, `
metadata: {name: Bad_Name, namespace: default, labels: {"bad key!": v}}
spec:
  restartPolicy: Sometimes
  containers:
  - name: app
    ports: [{containerPort: 70000}]
  - name: app
    image: busybox
`), []string{
			"metadata.labels[bad key!]",
			"metadata.name",
			"spec.containers[0].image",
			"spec.containers[0].ports[0].containerPort",
			"spec.containers[1].name",
			"spec.restartPolicy",
		}},
		{"deployment", fromYAML[*appsv1.Deployment](t, `
metadata: {name: web, namespace: default}
spec:
  replicas: -1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: nginx, image: nginx}]
`), []string{"spec.replicas", "spec.template.metadata.labels"}},
		{"service", fromYAML[*corev1.Service](t, `
metadata: {name: svc, namespace: default}
spec:
  type: Balanced
  ports: [{port: 0}]
`), []string{"spec.ports[0].port", "spec.type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, c.srv)
			writesNothing(c, "invalid "+tc.name, func() {
				_, err := create(c, tc.obj)
				wantCode(t, err, codes.InvalidArgument)
				if !apierrors.IsInvalid(err) {
					t.Fatalf("not Invalid: %v", err)
				}
				got := fieldsOf(t, err)
				var missing []string
				for _, f := range tc.fields {
					if !contains(got, f) {
						missing = append(missing, f)
					}
				}
				if len(missing) > 0 {
					t.Fatalf("error details %v lack %v\n(%v)", got, missing, err)
				}
			})
			_, err := c.api.Get(c.ctx, &apiv1.GetRequest{Resource: resourceOf(tc.obj), Namespace: "default", Name: scheme.Meta(tc.obj).Name})
			if status := apierrors.ReasonOf(err); status != apierrors.ReasonNotFound && status != apierrors.ReasonBadRequest {
				t.Fatalf("get after refused create: %v", err)
			}
		})
	}

	// An invalid update changes nothing either.
	good := mustCreate(c, fromYAML[*appsv1.Deployment](t, deploymentYAML))
	bad := proto.Clone(good).(*appsv1.Deployment)
	minus := int32(-3)
	bad.Spec.Replicas = &minus
	bad.Spec.Selector.MatchLabels = map[string]string{"app": "changed"}
	writesNothing(c, "invalid update", func() {
		_, err := update(c, bad)
		wantCode(t, err, codes.InvalidArgument)
		if f := fieldsOf(t, err); !contains(f, "spec.replicas") || !contains(f, "spec.selector") {
			t.Fatalf("fields %v (%v)", f, err)
		}
	})
	assertEqual(t, "after a refused update", good, mustGet[*appsv1.Deployment](c, "default", "web"))
}

// TestMalformedRequestsWriteNothing covers requests that name no single
// bad field: unknown resources, wrong kinds, namespace mismatches, size.
func TestMalformedRequestsWriteNothing(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	existing := mustCreate(c, configMap("default", "existing", map[string]string{"k": "v"}))
	cmAny, _ := scheme.Pack(configMap("default", "new-cm", nil))
	podAny, _ := scheme.Pack(pod("default", "new-pod", nil))
	existingAsPod, _ := scheme.Pack(&corev1.Pod{Metadata: proto.Clone(existing.Metadata).(*metav1.ObjectMeta)})
	// A ConfigMap over 1 MiB breaks Kubernetes' ConfigMap limit (Invalid);
	// a pod whose args take 1.6 MB passes validation and meets the 1.5 MiB
	// object limit (TooLarge).
	blob := strings.Repeat("x", 1600*1000)
	hugeCMAny, _ := scheme.Pack(configMap("default", "huge", map[string]string{"blob": blob}))
	hugePod := pod("default", "huge", nil)
	hugePod.Spec.Containers[0].Args = []string{blob}
	hugePodAny, _ := scheme.Pack(hugePod)
	hugerPod := pod("default", "huge", nil)
	hugerPod.Spec.Containers[0].Args = []string{blob, blob}
	hugerPodAny, _ := scheme.Pack(hugerPod)
	grown := proto.Clone(existing).(*corev1.ConfigMap)
	grown.Data["blob"] = blob
	grownAny, _ := scheme.Pack(grown)
	big := mustCreate(c, fromYAML[*appsv1.Deployment](t, deploymentYAML))
	grownDeploy := proto.Clone(big).(*appsv1.Deployment)
	grownDeploy.Spec.Template.Spec.Containers[0].Args = []string{blob}
	grownDeployAny, _ := scheme.Pack(grownDeploy)

	for _, tc := range []struct {
		name    string
		call    func() error
		code    codes.Code
		mention string
	}{
		{"create unknown resource", func() error {
			_, err := c.api.Create(c.ctx, &apiv1.CreateRequest{Resource: "widgets", Object: cmAny})
			return err
		}, codes.InvalidArgument, "widgets"},
		{"get unknown resource", func() error {
			_, err := c.api.Get(c.ctx, &apiv1.GetRequest{Resource: "widgets", Namespace: "default", Name: "x"})
			return err
		}, codes.InvalidArgument, "widgets"},
		{"list unknown resource", func() error {
			_, err := c.api.List(c.ctx, &apiv1.ListRequest{Resource: "widgets"})
			return err
		}, codes.InvalidArgument, "widgets"},
		{"delete unknown resource", func() error {
			_, err := c.api.Delete(c.ctx, &apiv1.DeleteRequest{Resource: "widgets", Namespace: "default", Name: "existing"})
			return err
		}, codes.InvalidArgument, "widgets"},
		{"watch unknown resource", func() error {
			s, err := c.api.Watch(c.ctx, &apiv1.WatchRequest{Resource: "widgets"})
			if err == nil {
				_, err = s.Recv()
			}
			return err
		}, codes.InvalidArgument, "widgets"},
		{"pod sent to configmaps", func() error {
			_, err := c.api.Create(c.ctx, &apiv1.CreateRequest{Resource: "configmaps", Object: podAny})
			return err
		}, codes.InvalidArgument, "Pod"},
		{"pod update sent to configmaps", func() error {
			_, err := c.api.Update(c.ctx, &apiv1.UpdateRequest{Resource: "configmaps", Object: existingAsPod})
			return err
		}, codes.InvalidArgument, "Pod"},
		{"unknown type", func() error {
			_, err := c.api.Create(c.ctx, &apiv1.CreateRequest{Resource: "configmaps", Object: &anypb.Any{TypeUrl: "type.googleapis.com/keel.core.v1.Widget", Value: cmAny.Value}})
			return err
		}, codes.InvalidArgument, "Widget"},
		{"undecodable object", func() error {
			_, err := c.api.Create(c.ctx, &apiv1.CreateRequest{Resource: "configmaps", Object: &anypb.Any{TypeUrl: cmAny.TypeUrl, Value: []byte{0xff, 0xff, 0xff}}})
			return err
		}, codes.InvalidArgument, "ConfigMap"},
		{"no object", func() error {
			_, err := c.api.Create(c.ctx, &apiv1.CreateRequest{Resource: "configmaps"})
			return err
		}, codes.InvalidArgument, "object"},
		{"namespace mismatch", func() error {
			_, err := c.api.Create(c.ctx, &apiv1.CreateRequest{Resource: "configmaps", Namespace: "kube-system", Object: cmAny})
			return err
		}, codes.InvalidArgument, "namespace"},
		{"configmap over 1 MiB", func() error {
			_, err := c.api.Create(c.ctx, &apiv1.CreateRequest{Resource: "configmaps", Object: hugeCMAny})
			if f := fieldsOf(t, err); !contains(f, "data") {
				t.Errorf("fields %v, want data", f)
			}
			return err
		}, codes.InvalidArgument, "1048576"},
		{"configmap update over 1 MiB", func() error {
			_, err := c.api.Update(c.ctx, &apiv1.UpdateRequest{Resource: "configmaps", Object: grownAny})
			return err
		}, codes.InvalidArgument, "1048576"},
		{"object over 1.5 MiB", func() error {
			_, err := c.api.Create(c.ctx, &apiv1.CreateRequest{Resource: "pods", Object: hugePodAny})
			wantTooLarge(t, err, `the Pod "huge"`, apiserver.MaxObjectBytes)
			return err
		}, codes.ResourceExhausted, "Request entity too large"},
		{"update over 1.5 MiB", func() error {
			_, err := c.api.Update(c.ctx, &apiv1.UpdateRequest{Resource: "deployments", Object: grownDeployAny})
			wantTooLarge(t, err, `the Deployment "web"`, apiserver.MaxObjectBytes)
			return err
		}, codes.ResourceExhausted, "Request entity too large"},
		{"request over the gRPC limit", func() error {
			_, err := c.api.Create(c.ctx, &apiv1.CreateRequest{Resource: "pods", Object: hugerPodAny})
			wantTooLarge(t, err, "the request", apiserver.MaxRequestBytes)
			return err
		}, codes.ResourceExhausted, ""},
		{"negative grace period", func() error {
			g := int64(-1)
			_, err := c.api.Delete(c.ctx, &apiv1.DeleteRequest{Resource: "configmaps", Namespace: "default", Name: "existing", GracePeriodSeconds: &g})
			return err
		}, codes.InvalidArgument, "gracePeriodSeconds"},
		{"bind without a node", func() error {
			_, err := c.api.Bind(c.ctx, &apiv1.BindRequest{Namespace: "default", Name: "new-pod"})
			return err
		}, codes.InvalidArgument, "target.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, c.srv)
			writesNothing(c, tc.name, func() {
				err := tc.call()
				wantCode(t, err, tc.code)
				if !strings.Contains(err.Error(), tc.mention) {
					t.Errorf("error %q does not mention %q", err, tc.mention)
				}
			})
		})
	}
	mustBeGone[*corev1.ConfigMap](c, "default", "new-cm")
	mustBeGone[*corev1.ConfigMap](c, "default", "huge")
	mustBeGone[*corev1.Pod](c, "default", "new-pod")
	mustBeGone[*corev1.Pod](c, "default", "huge")
	assertEqual(t, "deployment after a refused update", big, mustGet[*appsv1.Deployment](c, "default", "web"))
	assertEqual(t, "untouched object", existing, mustGet[*corev1.ConfigMap](c, "default", "existing"))
	items, _ := mustList[*corev1.ConfigMap](c, &apiv1.ListRequest{Namespace: "default"})
	if got := names(items); !reflect.DeepEqual(got, []string{"existing"}) {
		t.Fatalf("configmaps after refused requests: %v", got)
	}
}

// TestDryRunWritesNothing: a dry-run create answers with the object as it
// would be stored, and stores nothing.
func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	req := pack(t, pod("default", "dry", nil))
	req.Resource, req.DryRun = "pods", true
	writesNothing(c, "dry-run create", func() {
		out, err := c.api.Create(c.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		p := mustUnpack(t, out).(*corev1.Pod)
		if p.Metadata.Uid == "" || p.Spec.RestartPolicy != "Always" || p.Status.GetPhase() != "Pending" {
			t.Fatalf("dry-run answer not defaulted: %v", text(p))
		}
	})
	mustBeGone[*corev1.Pod](c, "default", "dry")
}

// wantTooLarge checks that err, as a client reads it, is
// RequestEntityTooLarge naming what was too large, its size and the limit.
func wantTooLarge(t *testing.T, err error, what string, limit int) {
	t.Helper()
	err = apierrors.FromStatus(err)
	re := regexp.MustCompile(`^Request entity too large: ` + regexp.QuoteMeta(what) + ` is (\d+) bytes, limit is ` + strconv.Itoa(limit) + `$`)
	m := re.FindStringSubmatch(fmt.Sprint(err))
	if !apierrors.IsTooLarge(err) || m == nil {
		t.Errorf("got (%s) %v, want (%s) matching %s", apierrors.ReasonOf(err), err, apierrors.ReasonTooLarge, re)
		return
	}
	if size, _ := strconv.Atoi(m[1]); size <= limit {
		t.Errorf("size %d is within the limit %d: %v", size, limit, err)
	}
}
