package apiserver_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/pki"
)

// restClient speaks HTTPS to a test apiserver as a key pair's user,
// optionally impersonating another.
type restClient struct {
	t    *testing.T
	base string
	c    *http.Client
	as   string // Impersonate-User, if set
}

func newRESTClient(t *testing.T, s *testserver.Secure) *restClient {
	tr := &http.Transport{TLSClientConfig: s.TLS(pki.AdminName)}
	t.Cleanup(tr.CloseIdleConnections)
	return &restClient{t: t, base: "https://" + s.Addr, c: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

type restResponse struct {
	code   int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map.
func (r restResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return m
}

func (c *restClient) do(method, path, contentType, body string, header ...string) restResponse {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if c.as != "" {
		req.Header.Set("Impersonate-User", c.as)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return restResponse{code: resp.StatusCode, header: resp.Header, body: b}
}

// want fails unless the answer has the code; it returns the body decoded.
func (c *restClient) want(code int, method, path, contentType, body string, header ...string) map[string]any {
	c.t.Helper()
	r := c.do(method, path, contentType, body, header...)
	if r.code != code {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, r.code, r.body, code)
	}
	return r.json(c.t)
}

// dig follows keys (map keys, or list indices as ints) into a decoded value.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

const restPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},
 "spec":{"containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}]}}`

func TestRESTDiscovery(t *testing.T) {
	s := testserver.StartSecure(t, nil, nil)
	c := newRESTClient(t, s)

	v := c.want(200, "GET", "/version", "", "")
	if v["major"] != "1" || !strings.HasPrefix(v["gitVersion"].(string), "v1.") {
		t.Errorf("/version = %v", v)
	}
	if got := c.want(200, "GET", "/api", "", ""); dig(got, "versions", 0) != "v1" {
		t.Errorf("/api = %v", got)
	}
	groups := c.want(200, "GET", "/apis", "", "")
	found := false
	for _, g := range dig(groups, "groups").([]any) {
		found = found || dig(g, "name") == "apps" && dig(g, "preferredVersion", "groupVersion") == "apps/v1"
	}
	if !found {
		t.Errorf("/apis has no apps/v1: %v", groups)
	}
	c.want(200, "GET", "/apis/apps", "", "")
	c.want(404, "GET", "/apis/frobs.example.com", "", "")
	c.want(404, "GET", "/apis/apps/v2", "", "")

	res := map[string]map[string]any{}
	for _, r := range dig(c.want(200, "GET", "/apis/apps/v1", "", ""), "resources").([]any) {
		res[dig(r, "name").(string)] = r.(map[string]any)
	}
	d := res["deployments"]
	if d == nil || d["kind"] != "Deployment" || d["singularName"] != "deployment" || d["namespaced"] != true ||
		dig(d, "shortNames", 0) != "deploy" || dig(d, "categories", 0) != "all" || len(d["verbs"].([]any)) != 8 {
		t.Errorf("deployments = %v", d)
	}
	if s := res["deployments/scale"]; s == nil || s["kind"] != "Scale" || s["group"] != "autoscaling" {
		t.Errorf("deployments/scale = %v", s)
	}
	if res["deployments/status"] == nil {
		t.Errorf("no deployments/status in %v", res)
	}

	// Aggregated discovery, as kubectl 1.32 asks for it.
	accept := "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
	r := c.do("GET", "/api", "", "", "Accept", accept)
	if ct := r.header.Get("Content-Type"); r.code != 200 || !strings.Contains(ct, "as=APIGroupDiscoveryList") {
		t.Fatalf("aggregated /api: %d %s %s", r.code, ct, r.body)
	}
	core := r.json(t)
	var pods map[string]any
	for _, x := range dig(core, "items", 0, "versions", 0, "resources").([]any) {
		if dig(x, "resource") == "pods" {
			pods = x.(map[string]any)
		}
	}
	if pods == nil || pods["scope"] != "Namespaced" || dig(pods, "responseKind", "kind") != "Pod" || dig(pods, "shortNames", 0) != "po" {
		t.Fatalf("aggregated pods = %v", pods)
	}
	subs := map[string]bool{}
	for _, x := range pods["subresources"].([]any) {
		subs[dig(x, "subresource").(string)] = true
	}
	for _, want := range []string{"status", "eviction", "binding", "log"} {
		if !subs[want] {
			t.Errorf("pods' subresources %v lack %s", subs, want)
		}
	}
	named := c.do("GET", "/apis", "", "", "Accept", accept).json(t)
	if dig(named, "kind") != "APIGroupDiscoveryList" || len(dig(named, "items").([]any)) < 5 {
		t.Errorf("aggregated /apis = %s", dig(named, "kind"))
	}
}

func TestRESTObjects(t *testing.T) {
	s := testserver.StartSecure(t, nil, nil)
	c := newRESTClient(t, s)
	const pods = "/api/v1/namespaces/default/pods"

	created := c.want(201, "POST", pods, "application/json", restPod)
	if created["kind"] != "Pod" || created["apiVersion"] != "v1" || dig(created, "metadata", "uid") == nil {
		t.Fatalf("created = %v", created)
	}
	got := c.want(200, "GET", pods+"/web", "", "")
	if dig(got, "spec", "containers", 0, "resources", "requests", "cpu") != "100m" {
		t.Errorf("got = %v", got)
	}
	// Numbers are JSON numbers, not strings.
	if _, ok := dig(got, "spec", "terminationGracePeriodSeconds").(float64); !ok {
		t.Errorf("terminationGracePeriodSeconds = %#v", dig(got, "spec", "terminationGracePeriodSeconds"))
	}
	list := c.want(200, "GET", pods+"?labelSelector=app%3Dweb", "", "")
	if list["kind"] != "PodList" || dig(list, "metadata", "resourceVersion") == "" || dig(list, "items", 0, "kind") != "Pod" {
		t.Fatalf("list = %v", list)
	}
	if items := dig(c.want(200, "GET", pods+"?labelSelector=app%3Ddb", "", ""), "items").([]any); len(items) != 0 {
		t.Errorf("app=db selected %d pods", len(items))
	}
	if items := dig(c.want(200, "GET", "/api/v1/pods?fieldSelector=metadata.name%3Dweb", "", ""), "items").([]any); len(items) != 1 {
		t.Errorf("all namespaces, metadata.name=web: %d pods", len(items))
	}

	// Errors are Status objects.
	st := c.want(404, "GET", pods+"/nope", "", "")
	if st["kind"] != "Status" || st["reason"] != "NotFound" || dig(st, "details", "name") != "nope" || dig(st, "details", "kind") != "pods" || st["code"] != 404.0 {
		t.Errorf("not found = %v", st)
	}
	if st := c.want(404, "GET", "/api/v1/namespaces/default/frobs", "", ""); st["reason"] != "NotFound" {
		t.Errorf("unknown resource = %v", st)
	}
	c.want(404, "GET", "/apis/apps/v9/deployments", "", "")
	c.want(409, "POST", pods, "application/json", restPod)
	c.want(400, "POST", pods, "application/json", `{"apiVersion":"v1",`)
	c.want(415, "POST", pods, "text/plain", restPod)
	// The watch-list stream is refused as kube-apiserver refuses it
	// without its WatchList feature (client-go then lists and watches).
	if st := c.want(422, "GET", pods+"?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true", "", ""); dig(st, "details", "causes", 0, "field") != "sendInitialEvents" {
		t.Errorf("watch with sendInitialEvents = %v", st)
	}
	// Kubernetes' protobuf (TestClientGo sends valid bodies): not its
	// envelope, 400; a kind k8s.io/api lacks, 415.
	c.want(400, "POST", pods, "application/vnd.kubernetes.protobuf", "k8s\x00\x0a\x07garbage")
	c.want(415, "POST", pods, "application/vnd.kubernetes.protobuf", "k8s\x00\x0a\x0d\x0a\x05x.y/v\x12\x04Frob")
	c.want(413, "POST", pods, "application/json", `{"metadata":{"name":"big","annotations":{"a":"`+strings.Repeat("x", 4<<20)+`"}}}`)
	inv := c.want(422, "POST", pods, "application/json", `{"metadata":{"name":"bad"},"spec":{"containers":[{"name":"c"}]}}`)
	if inv["reason"] != "Invalid" || dig(inv, "details", "causes", 0, "field") != "spec.containers[0].image" {
		t.Errorf("invalid = %v", inv)
	}
	strict := c.want(400, "POST", pods+"?fieldValidation=Strict", "application/json", `{"metadata":{"name":"x"},"spec":{"bogus":1,"containers":[{"name":"c","image":"i"}]}}`)
	if !strings.Contains(strict["message"].(string), "spec.bogus: unknown field") {
		t.Errorf("strict = %v", strict)
	}
	r := c.do("POST", pods+"?fieldValidation=Warn", "application/json", `{"metadata":{"name":"warned"},"spec":{"bogus":1,"containers":[{"name":"c","image":"i"}]}}`)
	if r.code != 201 || !strings.Contains(r.header.Get("Warning"), `unknown field \"spec.bogus\"`) {
		t.Errorf("warn: %d %q %s", r.code, r.header.Get("Warning"), r.body)
	}
	// dryRun stores nothing.
	c.want(201, "POST", pods+"?dryRun=All", "application/json", strings.Replace(restPod, `"web"`, `"dry"`, 1))
	c.want(404, "GET", pods+"/dry", "", "")

	// Update, patches.
	got["metadata"].(map[string]any)["labels"] = map[string]any{"app": "web", "tier": "front"}
	b, _ := json.Marshal(got)
	if up := c.want(200, "PUT", pods+"/web", "application/json", string(b)); dig(up, "metadata", "labels", "tier") != "front" {
		t.Errorf("update = %v", up)
	}
	c.want(409, "PUT", pods+"/web", "application/json", string(b)) // stale resourceVersion
	// Without a resourceVersion an update is unconditional, as in
	// Kubernetes (Helm updates its release Secrets so).
	delete(got["metadata"].(map[string]any), "resourceVersion")
	got["metadata"].(map[string]any)["labels"] = map[string]any{"app": "web", "tier": "back"}
	b, _ = json.Marshal(got)
	if up := c.want(200, "PUT", pods+"/web", "application/json", string(b)); dig(up, "metadata", "labels", "tier") != "back" {
		t.Errorf("unconditional update = %v", up)
	}
	if p := c.want(200, "PATCH", pods+"/web", "application/merge-patch+json", `{"metadata":{"labels":{"tier":null,"x":"1"}}}`); dig(p, "metadata", "labels", "x") != "1" || dig(p, "metadata", "labels", "tier") != nil {
		t.Errorf("merge patch = %v", dig(p, "metadata", "labels"))
	}
	if p := c.want(200, "PATCH", pods+"/web", "application/json-patch+json", `[{"op":"add","path":"/metadata/annotations","value":{"a":"b"}},{"op":"remove","path":"/metadata/labels/x"}]`); dig(p, "metadata", "annotations", "a") != "b" || dig(p, "metadata", "labels", "x") != nil {
		t.Errorf("json patch = %v", dig(p, "metadata"))
	}
	if st := c.want(422, "PATCH", pods+"/web", "application/apply-patch+yaml", `{}`); st["reason"] != "Invalid" || !strings.Contains(st["message"].(string), "fieldManager: Required value") {
		t.Errorf("server-side apply without a fieldManager = %v", st)
	}
	// Status subresource.
	if p := c.want(200, "PATCH", pods+"/web/status", "application/merge-patch+json", `{"status":{"phase":"Running"}}`); dig(p, "status", "phase") != "Running" {
		t.Errorf("status patch = %v", dig(p, "status"))
	}

	// Delete with a precondition that fails, then for good.
	c.want(409, "DELETE", pods+"/web", "application/json", `{"preconditions":{"uid":"other"}}`)
	c.want(200, "DELETE", pods+"/web?gracePeriodSeconds=0", "", "")
	c.want(404, "GET", pods+"/web", "", "")
	c.want(201, "POST", pods, "application/json", strings.Replace(restPod, `"web"`, `"web2"`, 1))
	c.want(200, "DELETE", pods+"?labelSelector=app%3Dweb&gracePeriodSeconds=0", "", "")
	if items := dig(c.want(200, "GET", pods+"?labelSelector=app%3Dweb", "", ""), "items").([]any); len(items) != 0 {
		t.Errorf("after deletecollection: %d pods", len(items))
	}

	// A user without permission is refused with 403.
	c.as = "bob"
	if st := c.want(403, "GET", pods, "", ""); st["reason"] != "Forbidden" || !strings.Contains(st["message"].(string), `User "bob" cannot list resource "pods"`) {
		t.Errorf("bob = %v", st)
	}
}

func TestRESTScaleAndWatch(t *testing.T) {
	// A small window, so that the deployment's first versions leave it.
	s := testserver.StartSecure(t, nil, func(cfg *apiserver.Config) { cfg.WatchCacheWindow = 2 })
	c := newRESTClient(t, s)
	const deploys = "/apis/apps/v1/namespaces/default/deployments"
	c.want(201, "POST", deploys, "application/yaml", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox}]}
`)
	sc := c.want(200, "GET", deploys+"/web/scale", "", "")
	if sc["kind"] != "Scale" || dig(sc, "spec", "replicas") != 1.0 || dig(sc, "status", "selector") != "app=web" {
		t.Fatalf("scale = %v", sc)
	}
	if p := c.want(200, "PATCH", deploys+"/web/scale", "application/merge-patch+json", `{"spec":{"replicas":3}}`); dig(p, "spec", "replicas") != 3.0 {
		t.Errorf("scale patch = %v", p)
	}
	d := c.want(200, "GET", deploys+"/web", "", "")
	if dig(d, "spec", "replicas") != 3.0 || dig(d, "metadata", "generation") != 2.0 {
		t.Errorf("after scale: replicas %v generation %v", dig(d, "spec", "replicas"), dig(d, "metadata", "generation"))
	}

	// A watch from the list's version answers its headers at once, before
	// any event (no bookmarks asked for), and sees the next change.
	rv := dig(c.want(200, "GET", deploys, "", ""), "metadata", "resourceVersion").(string)
	req, _ := http.NewRequest("GET", c.base+deploys+"?watch=true&resourceVersion="+rv, nil)
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("watch: %d", resp.StatusCode)
	}
	c.want(200, "PATCH", deploys+"/web", "application/merge-patch+json", `{"metadata":{"labels":{"seen":"yes"}}}`)
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var ev struct {
			Type   string
			Object map[string]any
		}
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Fatalf("event %s: %v", lines.Bytes(), err)
		}
		if ev.Type == "MODIFIED" && dig(ev.Object, "metadata", "labels", "seen") == "yes" && ev.Object["kind"] == "Deployment" {
			break
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}

	// A version the cache no longer holds: an ERROR event with 410.
	r := c.do("GET", deploys+"?watch=true&timeoutSeconds=5&resourceVersion=1", "", "")
	if r.code != 200 || !bytes.Contains(r.body, []byte(`"type":"ERROR"`)) || !bytes.Contains(r.body, []byte(`"code":410`)) {
		t.Errorf("too old watch: %d %s", r.code, r.body)
	}
}
