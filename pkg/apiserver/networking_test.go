package apiserver_test

import (
	"strings"
	"testing"

	"keel.dev/keel/pkg/apiserver/testserver"
)

const defaultIngressClassYAML = `
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: routers
  annotations:
    ingressclass.kubernetes.io/is-default-class: "true"
spec:
  controller: example.com/ingress-controller
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  tls:
  - hosts: [shop.example.com]
    secretName: shop-tls
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: storefront
            port:
              number: 80
`

// TestKubectlIngressDefaultClass: with kubectl against an apiserver
// authorizing with Node,RBAC, applying a default IngressClass and an
// Ingress that names no class gives the Ingress the default class
// (DefaultIngressClass admission); kubectl get prints kubectl's columns
// for both kinds, finds the Ingress by its short name, shows the address
// an ingress controller writes to the status subresource, and a second
// apply changes nothing. A bad Ingress is refused naming its field.
func TestKubectlIngressDefaultClass(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	kubectl := kubectlAgainst(t, s)

	if out, err := kubectl(defaultIngressClassYAML, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	if out, err := kubectl("", "get", "ingress", "web", "-o", "jsonpath={.spec.ingressClassName}"); err != nil || out != "routers" {
		t.Fatalf("ingressClassName %q (%v), want routers", out, err)
	}
	if out, err := kubectl(defaultIngressClassYAML, "apply", "-f", "-"); err != nil || !strings.Contains(out, "ingress.networking.k8s.io/web unchanged") {
		t.Errorf("second kubectl apply: %v\n%s", err, out)
	}

	if out, err := kubectl("", "patch", "ingress", "web", "--subresource=status", "--type=merge",
		"-p", `{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.10"}]}}}`); err != nil {
		t.Fatalf("kubectl patch --subresource=status: %v\n%s", err, out)
	}
	out, err := kubectl("", "get", "ing")
	if err != nil {
		t.Fatalf("kubectl get ing: %v\n%s", err, out)
	}
	rows := tableLines(out)
	if got := strings.Join(rows[0], "|"); got != "NAME|CLASS|HOSTS|ADDRESS|PORTS|AGE" {
		t.Errorf("kubectl get ing header %q\n%s", got, out)
	}
	if len(rows) != 2 || strings.Join(rows[1][:5], "|") != "web|routers|shop.example.com|192.0.2.10|80, 443" {
		t.Errorf("kubectl get ing:\n%s", out)
	}
	out, err = kubectl("", "get", "ingressclass")
	if err != nil {
		t.Fatalf("kubectl get ingressclass: %v\n%s", err, out)
	}
	rows = tableLines(out)
	if len(rows) != 2 || strings.Join(rows[0], "|") != "NAME|CONTROLLER|PARAMETERS|AGE" ||
		strings.Join(rows[1][:3], "|") != "routers|example.com/ingress-controller|<none>" {
		t.Errorf("kubectl get ingressclass:\n%s", out)
	}

	// kubectl's own describer reads the Ingress and its backends' Services
	// through its typed clients.
	if out, err := kubectl("", "describe", "ingress", "web"); err != nil || !strings.Contains(out, "Ingress Class:") || !strings.Contains(out, "routers") ||
		!strings.Contains(out, "storefront:80") {
		t.Errorf("kubectl describe ingress: %v\n%s", err, out)
	}

	bad := strings.Replace(defaultIngressClassYAML[strings.Index(defaultIngressClassYAML, "---"):], "pathType: Prefix", "pathType: Regex", 1)
	out, err = kubectl(strings.Replace(bad, "name: web", "name: bad", 1), "apply", "-f", "-")
	if err == nil || !strings.Contains(out, `spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex"`) {
		t.Errorf("bad Ingress: %v\n%s", err, out)
	}
}

// TestKubectlNetworkPolicy: a NetworkPolicy applies with kubectl, is
// found by its short name with kubectl's columns, and comes back with
// Kubernetes' defaults (TCP ports, policy types from its rules).
func TestKubectlNetworkPolicy(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	kubectl := kubectlAgainst(t, s)
	policy := `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db-clients
spec:
  podSelector:
    matchLabels: {app: db}
  ingress:
  - from:
    - podSelector:
        matchLabels: {role: client}
    ports:
    - port: 5432
  egress:
  - {}
`
	if out, err := kubectl(policy, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	out, err := kubectl("", "get", "netpol")
	if err != nil {
		t.Fatalf("kubectl get netpol: %v\n%s", err, out)
	}
	if rows := tableLines(out); len(rows) != 2 || strings.Join(rows[0], "|") != "NAME|POD-SELECTOR|AGE" || strings.Join(rows[1][:2], "|") != "db-clients|app=db" {
		t.Errorf("kubectl get netpol:\n%s", out)
	}
	if out, err := kubectl("", "describe", "netpol", "db-clients"); err != nil || !strings.Contains(out, "PodSelector:") || !strings.Contains(out, "app=db") {
		t.Errorf("kubectl describe netpol: %v\n%s", err, out)
	}
	out, err = kubectl("", "get", "networkpolicy", "db-clients", "-o", "jsonpath={.spec.policyTypes} {.spec.ingress[0].ports[0].protocol}")
	if err != nil || out != `["Ingress","Egress"] TCP` {
		t.Errorf("defaults: %q (%v), want [\"Ingress\",\"Egress\"] TCP", out, err)
	}
}
