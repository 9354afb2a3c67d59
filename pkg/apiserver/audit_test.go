package apiserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/audit"
	"keel.dev/keel/pkg/apiserver/testserver"
	keelclient "keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
)

const auditPolicy = `
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: [system:kube-scheduler]
- level: Metadata
  resources: [{group: "", resources: [secrets]}]
- level: RequestResponse
  resources: [{group: "", resources: [configmaps]}]
- level: Metadata
`

// TestAudit, over TLS under Node,RBAC with a policy (secrets at
// Metadata, configmaps at RequestResponse, the scheduler not at all):
// each call is one ResponseComplete event naming its user, verb, object
// and HTTP-equivalent status, including refusals by authorization (403,
// also when impersonating) and authentication (401), watches start with
// ResponseStarted, HTTPS /metrics is a non-resource event; secret data
// never reaches the log, configmap data does.
func TestAudit(t *testing.T) {
	t.Parallel()
	policy, err := audit.ParsePolicy("policy.yaml", []byte(auditPolicy))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "audit.log")
	out, err := audit.LogOptions{Path: logPath}.Open()
	if err != nil {
		t.Fatal(err)
	}
	w := audit.NewWriter(out, 0, nil)
	s := testserver.StartSecure(t, nil, func(cfg *apiserver.Config) { cfg.Auditor = audit.NewAuditor(policy, w, nil) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	admin := s.Client(pki.AdminName)
	secret := &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": "s3cret-value"}}
	if _, err := admin.Secrets("default").Create(ctx, secret, keelclient.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Secrets("default").Get(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"color": "visible-blue"}}
	created, err := admin.ConfigMaps("default").Create(ctx, cm, keelclient.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// From the create's version, so that the delete below is seen however
	// late the watch reaches the server.
	wctx, stopWatch := context.WithCancel(ctx)
	watch, err := admin.ConfigMaps("default").Watch(wctx, keelclient.WatchOptions{ResourceVersion: created.GetMetadata().GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := admin.ConfigMaps("default").Delete(ctx, "settings", keelclient.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := admin.Secrets("default").Delete(ctx, "db", keelclient.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := watch.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "DELETED" {
			break
		}
	}
	watch.Stop()
	stopWatch()

	// A watch refused before authorization: its object is still named.
	ws, err := admin.API().Watch(ctx, &apiv1.WatchRequest{Resource: "configmaps", Namespace: "default", FieldSelector: "no.such.field=x"})
	if err == nil {
		_, err = ws.Recv()
	}
	badWatch := apierrors.HTTPStatus(apierrors.FromStatus(err))
	if badWatch < 400 || badWatch >= 500 {
		t.Fatalf("watch with a bad field selector: %v, want a client error", err)
	}

	// Refused by RBAC, as an impersonated user.
	bob, err := keelclient.New(keelclient.Options{Servers: []string{s.Addr}, TLS: s.TLS(pki.AdminName), Impersonate: keelclient.Impersonation{UserName: "bob", Groups: []string{"devs"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if _, err := bob.Secrets("default").Get(ctx, "db"); status.Code(err) != codes.PermissionDenied && !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("bob: %v, want Forbidden", err)
	}
	// Not authenticated.
	anonymous, err := keelclient.New(keelclient.Options{Servers: []string{s.Addr}, TLS: &tls.Config{RootCAs: s.TLS(pki.AdminName).RootCAs, ServerName: "localhost", MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	defer anonymous.Close()
	if _, err := anonymous.API().List(ctx, &apiv1.ListRequest{Resource: "pods", Namespace: "default"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("anonymous: %v, want Unauthenticated", err)
	}
	// The scheduler's calls are not audited.
	if _, err := s.Client(pki.SchedulerName).API().List(ctx, &apiv1.ListRequest{Resource: "pods", Namespace: "default"}); err != nil {
		t.Fatal(err)
	}
	// HTTPS, a non-resource URL.
	httpc := &http.Client{Transport: &http.Transport{TLSClientConfig: s.TLS(pki.AdminName)}}
	resp, err := httpc.Get("https://" + s.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	httpc.CloseIdleConnections()

	// The HTTPS handler records its event after the answer is sent.
	eventually(t, "the /metrics request in the log", func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), `"requestURI":"/metrics"`)
	})
	s.Stop()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, secretText := range []string{"s3cret-value", "czNjcmV0LXZhbHVl"} {
		if strings.Contains(string(raw), secretText) {
			t.Errorf("the audit log holds the secret's data (%s)", secretText)
		}
	}
	events := readEvents(t, logPath)
	find := func(what, user, verb, resource, name string, code int) audit.Event {
		t.Helper()
		for _, e := range events {
			if e.User.Username == user && e.Verb == verb && e.ResponseStatus != nil && e.ResponseStatus.Code == code && e.Stage == audit.StageResponseComplete &&
				(e.ObjectRef == nil && resource == "" || e.ObjectRef != nil && e.ObjectRef.Resource == resource && e.ObjectRef.Name == name) {
				return e
			}
		}
		t.Fatalf("no event for %s (%s %s %s/%s %d) among:\n%s", what, user, verb, resource, name, code, raw)
		return audit.Event{}
	}
	e := find("secret create", "admin", "create", "secrets", "db", 200)
	if e.Level != audit.LevelMetadata || e.RequestObject != nil || e.ResponseObject != nil || e.ObjectRef.Namespace != "default" || e.ObjectRef.APIVersion != "v1" {
		t.Errorf("secret create: %+v", e)
	}
	if e.RequestURI != "/api/v1/namespaces/default/secrets/db" || e.Annotations[audit.AnnotationDecision] != "allow" || len(e.SourceIPs) != 1 || !strings.Contains(e.UserAgent, pki.AdminName) {
		t.Errorf("secret create: URI %s, annotations %v, sources %v, agent %q", e.RequestURI, e.Annotations, e.SourceIPs, e.UserAgent)
	}
	find("secret get", "admin", "get", "secrets", "db", 200)
	find("secret delete", "admin", "delete", "secrets", "db", 200)
	e = find("configmap create", "admin", "create", "configmaps", "settings", 200)
	for what, body := range map[string]any{"request": e.RequestObject, "response": e.ResponseObject} {
		b, _ := json.Marshal(body)
		if !strings.Contains(string(b), `"color":"visible-blue"`) || !strings.Contains(string(b), `"kind":"ConfigMap"`) {
			t.Errorf("configmap create: %s object %s", what, b)
		}
	}
	find("configmap delete", "admin", "delete", "configmaps", "settings", 200)
	e = find("bob refused", "admin", "get", "secrets", "db", 403)
	if e.ImpersonatedUser == nil || e.ImpersonatedUser.Username != "bob" || e.ResponseStatus.Reason != "Forbidden" || e.Annotations[audit.AnnotationDecision] != "forbid" {
		t.Errorf("bob refused: %+v", e)
	}
	find("anonymous", "", "list", "pods", "", 401)
	find("bad watch", "admin", "watch", "configmaps", "", badWatch)
	e = find("metrics", "admin", "get", "", "", 200)
	if e.RequestURI != "/metrics" {
		t.Errorf("metrics: %+v", e)
	}
	started := false
	for _, e := range events {
		if e.User.Username == "system:kube-scheduler" {
			t.Errorf("the scheduler is audited: %+v", e)
		}
		if e.Stage == audit.StageRequestReceived {
			t.Errorf("RequestReceived is omitted by the policy: %+v", e)
		}
		if e.Stage == audit.StageResponseStarted && e.Verb == "watch" && e.ObjectRef.Resource == "configmaps" {
			started = true
			if e.RequestURI != "/api/v1/namespaces/default/configmaps?watch=true" {
				t.Errorf("watch URI %s", e.RequestURI)
			}
		}
	}
	if !started {
		t.Error("no ResponseStarted event for the watch")
	}
}

func readEvents(t *testing.T, path string) []audit.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var e audit.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		if e.Kind != "Event" || e.APIVersion != "audit.k8s.io/v1" || e.AuditID == "" {
			t.Errorf("not an audit event: %s", sc.Text())
		}
		out = append(out, e)
	}
	return out
}
