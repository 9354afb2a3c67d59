package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"keel.dev/keel/pkg/auth"
)

// Names of the key pairs Init creates in its directory; each is stored as
// NAME.crt and NAME.key (see CertPath, KeyPath).
const (
	// CAName is the cluster CA (CN CACommonName).
	CAName = "ca"
	// APIServerName is the apiserver's serving certificate.
	APIServerName = "apiserver"
	// AdminName is the administrator's client certificate (CN admin, O
	// system:masters).
	AdminName = "admin"
	// SchedulerName is keel-scheduler's client certificate.
	SchedulerName = "scheduler"
	// ControllerManagerName is keel-controller-manager's client certificate.
	ControllerManagerName = "controller-manager"
	// ProxyName is keel-proxy's client certificate.
	ProxyName = "proxy"
	// APIServerKubeletClientName is the client certificate the apiserver
	// presents to kubelets (logs, exec).
	APIServerKubeletClientName = "apiserver-kubelet-client"
	// APIServerEtcdClientName is the client certificate the apiserver
	// presents to etcd (--etcd-certfile), signed by etcd's CA.
	APIServerEtcdClientName = "apiserver-etcd-client"
)

// etcd has a CA of its own, as with kubeadm, so that a certificate of the
// cluster CA (a user's, a node's) never opens etcd. Its key pairs live in
// the subdirectory EtcdDir of Init's directory (etcd/ca.crt, etcd/server.crt,
// etcd/peer.crt), except APIServerEtcdClientName, which sits beside the
// apiserver's other certificates.
const (
	// EtcdDir is the subdirectory holding etcd's CA and members' pairs.
	EtcdDir = "etcd"
	// EtcdCAName is etcd's CA (CN EtcdCACommonName), in EtcdDir.
	EtcdCAName = "ca"
	// EtcdServerName is the members' serving certificate for clients
	// (etcd's --cert-file), in EtcdDir.
	EtcdServerName = "server"
	// EtcdPeerName is the members' certificate towards each other (etcd's
	// --peer-cert-file), in EtcdDir.
	EtcdPeerName = "peer"
	// EtcdCACommonName is the Subject CommonName of etcd's CA.
	EtcdCACommonName = "keel-etcd-ca"
)

// KubeletClientName is the name of the client certificate the kubelet of
// node uses towards the apiserver (CN system:node:NODE, O system:nodes).
func KubeletClientName(node string) string { return "kubelet-" + node + "-client" }

// KubeletServingName is the name of the serving certificate of the kubelet
// of node, presented to the apiserver (SANs: the node name and its IPs).
func KubeletServingName(node string) string { return "kubelet-" + node + "-serving" }

// expiryWarning is how close to expiry a kept certificate gets a warning.
const expiryWarning = 30 * 24 * time.Hour

// Node is a node Init creates kubelet certificates for.
type Node struct {
	// Name is the node name: a DNS-1123 subdomain (lower case).
	Name string
	// IPs are the node's addresses, put in the kubelet serving certificate.
	IPs []net.IP
}

// ParseNode parses "NAME" or "NAME=IP[,IP...]".
func ParseNode(s string) (Node, error) {
	name, ips, hasIPs := strings.Cut(s, "=")
	n := Node{Name: strings.TrimSpace(name)}
	if err := validateNodeName(n.Name); err != nil {
		return Node{}, err
	}
	if hasIPs {
		for _, f := range strings.Split(ips, ",") {
			f = strings.TrimSpace(f)
			ip := net.ParseIP(f)
			if ip == nil {
				return Node{}, fmt.Errorf("node %q: %q is not an IP address", n.Name, f)
			}
			n.IPs = append(n.IPs, ip)
		}
	}
	return n, nil
}

var (
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	dnsSAN           = regexp.MustCompile(`^(\*\.)?[A-Za-z0-9_]([-A-Za-z0-9_]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([-A-Za-z0-9_]*[A-Za-z0-9_])?)*$`)
	fileBaseName     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

func validateNodeName(name string) error {
	if len(name) > 253 || !dns1123Subdomain.MatchString(name) {
		return fmt.Errorf("invalid node name %q: must be a lower-case DNS-1123 subdomain", name)
	}
	return nil
}

// ValidateName checks that name can name a key pair: a plain file base name
// (letters, digits, '.', '_', '-', not starting with '.', '_' or '-').
func ValidateName(name string) error {
	if !fileBaseName.MatchString(name) {
		return fmt.Errorf("invalid certificate name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

// ParseSANs splits subject alternative names into DNS names and IP
// addresses: a value that parses as an IP address is one, anything else must
// be a DNS name (optionally a "*." wildcard). Duplicates are dropped; the
// order is kept.
func ParseSANs(values []string) (dnsNames []string, ips []net.IP, err error) {
	for _, v := range values {
		v = strings.TrimSpace(v)
		if ip := net.ParseIP(v); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		if len(v) > 253 || !dnsSAN.MatchString(v) {
			return nil, nil, fmt.Errorf("invalid subject alternative name %q: not an IP address nor a DNS name", v)
		}
		if !slices.Contains(dnsNames, v) {
			dnsNames = append(dnsNames, v)
		}
	}
	return dnsNames, ips, nil
}

// KubernetesServiceSANs are the names and the address by which pods reach
// the apiserver through the Service default/kubernetes: its DNS names and
// the first IP of the default --service-cluster-ip-range (a cluster with
// another range adds its first IP through APIServerSANs).
var KubernetesServiceSANs = []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "10.96.0.1"}

// InitOptions configure Init.
type InitOptions struct {
	// Dir receives the files; it is created (0755) if missing. Required.
	Dir string
	// APIServerSANs are extra DNS names or IP addresses of the apiserver
	// (load-balancer names, every control-plane machine's address for HA),
	// added to localhost, 127.0.0.1, ::1, KubernetesServiceSANs and
	// Hostname.
	APIServerSANs []string
	// Nodes get kubelet client and serving certificates.
	Nodes []Node
	// EtcdSANs are extra DNS names or IP addresses of the etcd members
	// (every member's host name and address), added to localhost,
	// 127.0.0.1, ::1 and Hostname in etcd's server and peer certificates.
	EtcdSANs []string
	// Hostname is added to the apiserver's and etcd's SANs; empty means
	// os.Hostname().
	Hostname string
	// Validity of the leaf certificates; zero means DefaultValidity. The CA
	// is valid DefaultCAValidity.
	Validity time.Duration
}

// InitResult reports what Init did, in a stable order (the CA first).
type InitResult struct {
	// Created and Kept are file paths.
	Created []string
	Kept    []string
	// Warnings are problems with kept files that do not stop the cluster
	// from working today: expired or soon expiring certificates, an
	// apiserver or kubelet certificate lacking a requested SAN, a subject
	// different from what Init would issue. Each says how to fix it.
	Warnings []string
}

type namedSpec struct {
	dir, name string
	spec      CertSpec
}

// authority is a CA, at dir/name, and the leaves Init issues with it.
type authority struct {
	dir, name, commonName string
	leaves                []namedSpec
}

// bundle returns the CAs and leaf certificates Init issues for opts, in
// Init's order. The SANs are resolved already (hostname included).
func bundle(opts InitOptions, apiDNS []string, apiIPs []net.IP, etcdDNS []string, etcdIPs []net.IP) []authority {
	dir, etcdDir := opts.Dir, filepath.Join(opts.Dir, EtcdDir)
	client := func(name, cn string, groups ...string) namedSpec {
		return namedSpec{dir, name, CertSpec{CommonName: cn, Organization: groups, Client: true, Validity: opts.Validity}}
	}
	leaves := []namedSpec{
		{dir, APIServerName, CertSpec{CommonName: "keel-apiserver", DNSNames: apiDNS, IPAddresses: apiIPs, Server: true, Validity: opts.Validity}},
		client(AdminName, auth.UserAdmin, auth.GroupMasters),
		client(SchedulerName, auth.UserScheduler),
		client(ControllerManagerName, auth.UserControllerManager),
		client(ProxyName, auth.UserProxy),
		client(APIServerKubeletClientName, auth.UserAPIServer, auth.GroupMasters),
	}
	for _, n := range opts.Nodes {
		leaves = append(leaves,
			client(KubeletClientName(n.Name), auth.NodeUser(n.Name), auth.GroupNodes),
			namedSpec{dir, KubeletServingName(n.Name), CertSpec{
				CommonName: auth.NodeUser(n.Name), Organization: []string{auth.GroupNodes},
				DNSNames: []string{n.Name}, IPAddresses: n.IPs, Server: true, Validity: opts.Validity,
			}})
	}
	// A member's serving and peer certificates are both server and client
	// certificates: members dial each other, and etcd's gateway and health
	// checks dial members, with them.
	member := func(name, cn string) namedSpec {
		return namedSpec{etcdDir, name, CertSpec{CommonName: cn, DNSNames: etcdDNS, IPAddresses: etcdIPs, Server: true, Client: true, Validity: opts.Validity}}
	}
	return []authority{
		{dir, CAName, CACommonName, leaves},
		{etcdDir, EtcdCAName, EtcdCACommonName, []namedSpec{
			member(EtcdServerName, "keel-etcd-server"),
			member(EtcdPeerName, "keel-etcd-peer"),
			client(APIServerEtcdClientName, "keel-apiserver-etcd-client"),
		}},
	}
}

// Init creates in opts.Dir every certificate a cluster needs, signed by the
// cluster CA or, for etcd, by etcd's own CA, and keeps whatever already
// exists:
//
//	ca                        CN keel-ca (CA, 10 years)
//	apiserver                 server; SANs localhost, 127.0.0.1, ::1, KubernetesServiceSANs, the hostname, opts.APIServerSANs
//	admin                     client; CN admin, O system:masters
//	scheduler                 client; CN system:kube-scheduler
//	controller-manager        client; CN system:kube-controller-manager
//	proxy                     client; CN system:kube-proxy
//	apiserver-kubelet-client  client; CN system:apiserver, O system:masters
//	kubelet-NODE-client       client; CN system:node:NODE, O system:nodes   (per opts.Nodes)
//	kubelet-NODE-serving      server; CN system:node:NODE, O system:nodes, SANs NODE and its IPs
//	etcd/ca                   CN keel-etcd-ca (CA, 10 years): etcd's own CA
//	etcd/server               server and client; SANs localhost, 127.0.0.1, ::1, the hostname, opts.EtcdSANs
//	etcd/peer                 server and client; the same SANs
//	apiserver-etcd-client     client of etcd/ca; CN keel-apiserver-etcd-client
//	sa.key, sa.pub            the key that signs ServiceAccount tokens (RSA 2048) and its public key
//
// Init is idempotent: an existing key pair is never overwritten (re-running
// keeps the CAs, so certificates issued earlier stay valid), and re-running
// with more nodes only adds theirs. Kept pairs are checked first, and Init
// writes nothing and returns an error when any of them is unusable: only one
// of NAME.crt/NAME.key present, a key not matching its certificate, a leaf
// not signed by its CA, a leaf lacking the usage (server/client) it needs,
// or leaves present while their CA is missing. Lesser problems are reported
// in InitResult.Warnings. To re-issue a certificate, delete its two files
// and run Init again.
//
// Concurrent Init calls on one directory do not corrupt files (see
// WriteKeyPair) but all except one may fail.
func Init(opts InitOptions) (*InitResult, error) {
	if opts.Dir == "" {
		return nil, errors.New("no directory given")
	}
	if opts.Validity < 0 {
		return nil, fmt.Errorf("negative validity %v", opts.Validity)
	}
	seen := map[string]bool{}
	for _, n := range opts.Nodes {
		if err := validateNodeName(n.Name); err != nil {
			return nil, err
		}
		if seen[n.Name] {
			return nil, fmt.Errorf("node %q given twice", n.Name)
		}
		seen[n.Name] = true
	}
	res := &InitResult{}
	local := []string{"localhost", "127.0.0.1", "::1"}
	var host []string
	hostname := opts.Hostname
	if hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("hostname unknown (%v): not added to the apiserver and etcd certificates", err))
		}
		hostname = h
	}
	if hostname != "" {
		if _, _, err := ParseSANs([]string{hostname}); err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("hostname %q is not a valid DNS name: not added to the apiserver and etcd certificates", hostname))
		} else {
			host = []string{hostname}
		}
	}
	apiDNS, apiIPs, err := ParseSANs(slices.Concat(local, KubernetesServiceSANs, host, opts.APIServerSANs))
	if err != nil {
		return nil, err
	}
	etcdDNS, etcdIPs, err := ParseSANs(slices.Concat(local, host, opts.EtcdSANs))
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	cas := bundle(opts, apiDNS, apiIPs, etcdDNS, etcdIPs)

	// Phase 1: inspect everything that exists; write nothing on error.
	var errs []error
	caPairs := make([]*KeyPair, len(cas))
	exists := make([][]bool, len(cas))
	for i, a := range cas {
		ca, caExists, err := loadExisting(a.dir, a.name)
		if err != nil {
			return nil, err
		}
		if caExists {
			if !ca.Cert.IsCA {
				return nil, fmt.Errorf("%s is not a CA certificate", CertPath(a.dir, a.name))
			}
			res.Warnings = append(res.Warnings, expiryWarnings(a.dir, a.name, ca.Cert)...)
			caPairs[i] = ca
		}
		exists[i] = make([]bool, len(a.leaves))
		for j, ns := range a.leaves {
			kp, ok, err := loadExisting(ns.dir, ns.name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			exists[i][j] = ok
			if !ok {
				continue
			}
			if !caExists {
				errs = append(errs, fmt.Errorf("%s exists but the CA %s does not: delete the old certificates or restore the CA", CertPath(ns.dir, ns.name), CertPath(a.dir, a.name)))
				continue
			}
			warnings, err := checkKept(ns, kp, caPairs[i], a)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			res.Warnings = append(res.Warnings, warnings...)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	// Phase 2: create what is missing.
	for i, a := range cas {
		ca := caPairs[i]
		if ca != nil {
			res.Kept = append(res.Kept, CertPath(a.dir, a.name), KeyPath(a.dir, a.name))
		} else {
			if ca, err = NewCA(a.commonName, DefaultCAValidity); err != nil {
				return res, err
			}
			if err := WriteKeyPair(a.dir, a.name, ca); err != nil {
				return res, err
			}
			res.Created = append(res.Created, CertPath(a.dir, a.name), KeyPath(a.dir, a.name))
		}
		for j, ns := range a.leaves {
			paths := []string{CertPath(ns.dir, ns.name), KeyPath(ns.dir, ns.name)}
			if exists[i][j] {
				res.Kept = append(res.Kept, paths...)
				continue
			}
			kp, err := Issue(ca, ns.spec)
			if err != nil {
				return res, fmt.Errorf("%s: %w", ns.name, err)
			}
			if err := WriteKeyPair(ns.dir, ns.name, kp); err != nil {
				return res, err
			}
			res.Created = append(res.Created, paths...)
		}
	}
	created, kept, err := ensureServiceAccountKey(opts.Dir)
	if err != nil {
		return res, fmt.Errorf("service account key: %w", err)
	}
	res.Created, res.Kept = append(res.Created, created...), append(res.Kept, kept...)
	return res, nil
}

// loadExisting loads key pair name from dir. It returns exists == false
// when neither file exists, and an error when only one does or they do not
// parse.
func loadExisting(dir, name string) (kp *KeyPair, exists bool, err error) {
	certPath, keyPath := CertPath(dir, name), KeyPath(dir, name)
	certOK, err := fileExists(certPath)
	if err != nil {
		return nil, false, err
	}
	keyOK, err := fileExists(keyPath)
	if err != nil {
		return nil, false, err
	}
	switch {
	case !certOK && !keyOK:
		return nil, false, nil
	case !certOK:
		return nil, false, fmt.Errorf("%s exists without %s: delete it to re-issue the pair", keyPath, certPath)
	case !keyOK:
		return nil, false, fmt.Errorf("%s exists without %s: delete it to re-issue the pair", certPath, keyPath)
	}
	kp, err = LoadKeyPair(dir, name)
	if err != nil {
		return nil, false, err
	}
	return kp, true, nil
}

func fileExists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// checkKept checks an existing leaf against its CA (ca, the pair of a) and
// the spec Init would issue: errors for what makes it unusable, warnings for
// the rest.
func checkKept(ns namedSpec, kp, ca *KeyPair, a authority) (warnings []string, err error) {
	dir := ns.dir
	path := CertPath(dir, ns.name)
	if err := kp.Cert.CheckSignatureFrom(ca.Cert); err != nil {
		return nil, fmt.Errorf("%s is not signed by %s (delete it to re-issue): %v", path, CertPath(a.dir, a.name), err)
	}
	if ns.spec.Server && !slices.Contains(kp.Cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		return nil, fmt.Errorf("%s lacks the serverAuth usage (delete it to re-issue)", path)
	}
	if ns.spec.Client && !slices.Contains(kp.Cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return nil, fmt.Errorf("%s lacks the clientAuth usage (delete it to re-issue)", path)
	}
	redo := fmt.Sprintf("delete %s and %s and re-run to re-issue", path, KeyPath(dir, ns.name))
	if kp.Cert.Subject.CommonName != ns.spec.CommonName || !slices.Equal(kp.Cert.Subject.Organization, ns.spec.Organization) {
		warnings = append(warnings, fmt.Sprintf("%s has subject CN=%q O=%q, expected CN=%q O=%q; %s",
			path, kp.Cert.Subject.CommonName, kp.Cert.Subject.Organization, ns.spec.CommonName, ns.spec.Organization, redo))
	}
	var missing []string
	for _, d := range ns.spec.DNSNames {
		if !slices.ContainsFunc(kp.Cert.DNSNames, func(s string) bool { return strings.EqualFold(s, d) }) {
			missing = append(missing, d)
		}
	}
	for _, ip := range ns.spec.IPAddresses {
		if !slices.ContainsFunc(kp.Cert.IPAddresses, ip.Equal) {
			missing = append(missing, ip.String())
		}
	}
	if len(missing) > 0 {
		warnings = append(warnings, fmt.Sprintf("%s lacks subject alternative names %s; %s", path, strings.Join(missing, ", "), redo))
	}
	return append(warnings, expiryWarnings(dir, ns.name, kp.Cert)...), nil
}

func expiryWarnings(dir, name string, cert *x509.Certificate) []string {
	now := time.Now()
	switch {
	case now.After(cert.NotAfter):
		return []string{fmt.Sprintf("%s expired on %s; delete it and its key and re-run to re-issue", CertPath(dir, name), cert.NotAfter.UTC().Format(time.RFC3339))}
	case cert.NotAfter.Sub(now) < expiryWarning:
		return []string{fmt.Sprintf("%s expires on %s; delete it and its key and re-run to re-issue", CertPath(dir, name), cert.NotAfter.UTC().Format(time.RFC3339))}
	}
	return nil
}

// IssueInDir issues one certificate described by spec, signed by the CA in
// dir (ca.crt, ca.key), and writes it to dir/name.crt and dir/name.key. It
// never overwrites: if either file exists it returns an error wrapping
// fs.ErrExist. name must pass ValidateName and must not be CAName.
func IssueInDir(dir, name string, spec CertSpec) (*KeyPair, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if name == CAName {
		return nil, fmt.Errorf("%q is the CA's name", name)
	}
	ca, err := LoadKeyPair(dir, CAName)
	if err != nil {
		return nil, fmt.Errorf("loading the CA: %w", err)
	}
	for _, p := range []string{CertPath(dir, name), KeyPath(dir, name)} {
		if ok, err := fileExists(p); err != nil {
			return nil, err
		} else if ok {
			return nil, fmt.Errorf("%s: %w (delete it first to re-issue)", p, fs.ErrExist)
		}
	}
	kp, err := Issue(ca, spec)
	if err != nil {
		return nil, err
	}
	if err := WriteKeyPair(dir, name, kp); err != nil {
		return nil, err
	}
	return kp, nil
}
