package app_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// TestSecurity reproduces the holes of issue 11 against an apiserver as
// clusters run it (TLS, RBAC, the bootstrap policy) and shows them closed.
// The Node authorizer's and the ServiceAccount tokens' cases live in their
// own files.
func TestSecurity(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, func(cfg *apiserver.Config) {
		cfg.TokenAuthenticators = append(cfg.TokenAuthenticators, staticToken{monitorToken: {Name: "scraper", Groups: []string{"system:monitoring"}}})
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connect := func(tlsConf *tls.Config, as client.Impersonation) apiv1.APIClient {
		c, err := client.New(client.Options{Servers: []string{s.Addr}, TLS: tlsConf, Impersonate: as})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.API()
	}
	create := func(api apiv1.APIClient, ns string, obj proto.Message, resource string) error {
		a, err := anypb.New(obj)
		if err != nil {
			t.Fatal(err)
		}
		_, err = api.Create(ctx, &apiv1.CreateRequest{Resource: resource, Namespace: ns, Object: a})
		return err
	}
	admin := connect(s.TLS(pki.AdminName), client.Impersonation{})

	t.Run("an unauthenticated call on every port", func(t *testing.T) {
		pool := x509.NewCertPool()
		caPEM, err := os.ReadFile(pki.CertPath(s.PKIDir, pki.CAName))
		if err != nil || !pool.AppendCertsFromPEM(caPEM) {
			t.Fatalf("reading the CA: %v", err)
		}
		noCert := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
		// The secure port, gRPC.
		anon := connect(noCert, client.Impersonation{})
		if _, err := anon.List(ctx, &apiv1.ListRequest{Resource: "secrets"}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("listing secrets without credentials: %v, want Unauthenticated", err)
		}
		// The secure port, HTTPS over HTTP/1.1 and HTTP/2: only health.
		for _, h2 := range []bool{false, true} {
			c := httpsClient(t, noCert, h2)
			for path, want := range map[string]int{"/metrics": 401, "/debug/pprof/": 401, "/api/v1/secrets": 401, "/healthz": 200, "/livez": 200, "/readyz": 200} {
				code, body, proto := get(t, c, "https://"+s.Addr+path, "")
				if code != want || (h2 && proto != 2) || (code == 401 && !strings.Contains(body, `"reason":"Unauthorized"`)) {
					t.Errorf("GET https %s (HTTP/%d) without credentials: %d %s, want %d", path, proto, code, body, want)
				}
			}
		}
		// A method cmux's fast HTTP/1 matcher does not know still reaches
		// HTTPS, and is refused.
		conn, err := tls.Dial("tcp", s.Addr, noCert)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("PROPFIND /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil || resp.StatusCode != 401 {
			t.Errorf("PROPFIND /metrics without credentials: %v, %v; want 401", resp, err)
		}
		// The plain health port: only health, to anyone.
		for path, want := range map[string]int{"/metrics": 404, "/debug/pprof/": 404, "/healthz": 200, "/livez": 200, "/readyz": 200} {
			if code, body, _ := get(t, http.DefaultClient, "http://"+s.HealthAddr+path, ""); code != want {
				t.Errorf("GET http %s: %d %s, want %d", path, code, body, want)
			}
		}
	})

	t.Run("metrics for system:monitoring only", func(t *testing.T) {
		if _, err := pki.IssueInDir(s.PKIDir, "prometheus", pki.CertSpec{CommonName: "prometheus", Organization: []string{"system:monitoring"}, Client: true}); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			who, token string
			tls        *tls.Config
			code       int
			want       string
		}{
			{"system:monitoring", "", s.TLS("prometheus"), 200, "keel_apiserver_storage_objects"},
			{"system:masters", "", s.TLS(pki.AdminName), 200, "keel_apiserver_storage_objects"},
			{"the scheduler", "", s.TLS(pki.SchedulerName), 403, `forbidden: User \"system:kube-scheduler\" cannot get path \"/metrics\"`},
			{"a bearer token of system:monitoring", monitorToken, s.TLS(pki.AdminName), 200, "keel_apiserver_storage_objects"},
			{"an unknown bearer token", "nope", nil, 401, "invalid bearer token"},
		} {
			conf := tt.tls
			if tt.token != "" {
				conf = &tls.Config{RootCAs: s.TLS(pki.AdminName).RootCAs, ServerName: "localhost", MinVersion: tls.VersionTLS12}
			}
			code, body, _ := get(t, httpsClient(t, conf, false), "https://"+s.Addr+"/metrics", tt.token)
			if code != tt.code || !strings.Contains(body, tt.want) {
				t.Errorf("GET /metrics as %s: %d, want %d with %q in:\n%.300s", tt.who, code, tt.code, tt.want, body)
			}
		}
	})

	t.Run("impersonation over HTTPS", func(t *testing.T) {
		// dave may impersonate the user scraper and the group
		// system:monitoring, which may get /metrics; the scheduler may not.
		if _, err := pki.IssueInDir(s.PKIDir, "dave", pki.CertSpec{CommonName: "dave", Client: true}); err != nil {
			t.Fatal(err)
		}
		if err := create(admin, "", &rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: "impersonate-scraper"}, Rules: []*rbacv1.PolicyRule{
			{Verbs: []string{"impersonate"}, ApiGroups: []string{""}, Resources: []string{"users"}, ResourceNames: []string{"scraper"}},
			{Verbs: []string{"impersonate"}, ApiGroups: []string{""}, Resources: []string{"groups"}, ResourceNames: []string{"system:monitoring"}},
		}}, "clusterroles"); err != nil {
			t.Fatal(err)
		}
		if err := create(admin, "", &rbacv1.ClusterRoleBinding{Metadata: &metav1.ObjectMeta{Name: "dave-impersonates-scraper"},
			RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "impersonate-scraper"},
			Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "dave"}}}, "clusterrolebindings"); err != nil {
			t.Fatal(err)
		}
		metrics := func(conf *tls.Config, headers ...string) (int, string) {
			req, err := http.NewRequest(http.MethodGet, "https://"+s.Addr+"/metrics", nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Add(headers[i], headers[i+1])
			}
			resp, err := httpsClient(t, conf, false).Do(req)
			if err != nil {
				t.Fatalf("GET /metrics: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		asScraper := []string{"Impersonate-User", "scraper", "Impersonate-Group", "system:monitoring"}
		// Once dave's binding is in the authorizer's cache.
		testutil.Eventually(t, 30*time.Second, "dave gets /metrics as scraper of system:monitoring", func() error {
			if code, body := metrics(s.TLS("dave"), asScraper...); code != 200 || !strings.Contains(body, "keel_apiserver_storage_objects") {
				return fmt.Errorf("%d %.300s", code, body)
			}
			return nil
		})
		for _, tt := range []struct {
			who     string
			tls     *tls.Config
			headers []string
			code    int
			want    string
		}{
			{"dave as himself", s.TLS("dave"), nil, 403, `User \"dave\" cannot get path \"/metrics\"`},
			{"the scheduler as scraper", s.TLS(pki.SchedulerName), asScraper, 403, `User \"system:kube-scheduler\" cannot impersonate resource \"users\"`},
			{"dave as system:masters", s.TLS("dave"), []string{"Impersonate-User", "scraper", "Impersonate-Group", "system:masters"}, 403, `User \"dave\" cannot impersonate resource \"groups\"`},
			{"dave as a group without a user", s.TLS("dave"), []string{"Impersonate-Group", "system:monitoring"}, 400, "without impersonating a user"},
		} {
			if code, body := metrics(tt.tls, tt.headers...); code != tt.code || !strings.Contains(body, tt.want) {
				t.Errorf("GET /metrics, %s: %d, want %d with %q in:\n%.300s", tt.who, code, tt.code, tt.want, body)
			}
		}
	})

	t.Run("deleting kube-system", func(t *testing.T) {
		_, err := admin.Delete(ctx, &apiv1.DeleteRequest{Resource: "namespaces", Name: "kube-system"})
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "may not be deleted") {
			t.Errorf("deleting kube-system as admin: %v, want Forbidden", err)
		}
	})

	t.Run("escalation through a RoleBinding", func(t *testing.T) {
		// carol may write RoleBindings in default, and holds nothing else.
		if err := create(admin, "default", &rbacv1.Role{Metadata: &metav1.ObjectMeta{Name: "binder"},
			Rules: []*rbacv1.PolicyRule{{Verbs: []string{"create"}, ApiGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"rolebindings"}}}}, "roles"); err != nil {
			t.Fatal(err)
		}
		if err := create(admin, "default", &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: "carol-binds"},
			RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "binder"},
			Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "carol"}}}, "rolebindings"); err != nil {
			t.Fatal(err)
		}
		carol := connect(s.TLS(pki.AdminName), client.Impersonation{UserName: "carol"})
		grab := func(name, role string) error {
			return create(carol, "default", &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: name},
				RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
				Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "carol"}}}, "rolebindings")
		}
		// Once carol's binding is in the authorizer's cache, her own
		// RoleBinding to cluster-admin is refused as an escalation.
		bound := false
		testutil.Eventually(t, 30*time.Second, "carol's RoleBinding to cluster-admin refused as an escalation", func() error {
			err := grab("carol-is-admin", "cluster-admin")
			if err == nil {
				bound = true
				return nil
			}
			if status.Code(err) == codes.PermissionDenied && strings.Contains(err.Error(), "attempting to grant RBAC permissions not currently held") {
				return nil
			}
			return err
		})
		if bound {
			t.Fatal("carol bound herself to cluster-admin")
		}
		if _, err := carol.List(ctx, &apiv1.ListRequest{Resource: "secrets", Namespace: "default"}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("carol lists secrets: %v, want Forbidden", err)
		}
	})

	t.Run("impersonation without the verb", func(t *testing.T) {
		sched := connect(s.TLS(pki.SchedulerName), client.Impersonation{UserName: "admin", Groups: []string{"system:masters"}})
		_, err := sched.List(ctx, &apiv1.ListRequest{Resource: "secrets"})
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `cannot impersonate`) {
			t.Errorf("the scheduler impersonating admin: %v, want Forbidden", err)
		}
	})
}

// monitorToken is a bearer token of group system:monitoring (staticToken).
const monitorToken = "scrape-me"

// staticToken authenticates fixed bearer tokens.
type staticToken map[string]auth.User

func (s staticToken) AuthenticateToken(_ context.Context, token string) (auth.User, bool, error) {
	u, ok := s[token]
	return u, ok, nil
}

// httpsClient is an HTTPS client with conf, speaking HTTP/2 when h2 is
// set and HTTP/1.1 otherwise.
func httpsClient(t *testing.T, conf *tls.Config, h2 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: conf, Protocols: new(http.Protocols)}
	// Offer only h2 for HTTP/2: the apiserver prefers HTTP/1.1 when
	// offered both.
	tr.Protocols.SetHTTP1(!h2)
	tr.Protocols.SetHTTP2(h2)
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// get GETs url (with "Authorization: Bearer token" when token is set) and
// returns the status code, the body and the HTTP major version.
func get(t *testing.T, c *http.Client, url, token string) (int, string, int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.ProtoMajor
}
