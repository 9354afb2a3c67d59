// Package config reads and writes Keel client configuration files, the
// equivalent of a kubeconfig: named clusters (every apiserver endpoint and
// the cluster CA), named users (client certificate and key), named contexts
// (a cluster, a user and a default namespace) and the current context.
//
// The file is a standard kubeconfig, which kubectl reads unchanged:
// Keel's one extension is a cluster's "servers", further apiservers
// (kubectl uses "server" alone). It is found at an explicit path
// (keelctl --config or --kubeconfig), else at $KEELCONFIG, else at the
// first file of $KUBECONFIG, else at ~/.keel/config. It is YAML:
//
//	apiVersion: v1
//	kind: Config
//	clusters:
//	- name: prod
//	  cluster:
//	    server: https://10.0.0.1:6443
//	    servers: [10.0.0.1:6443, 10.0.0.2:6443, 10.0.0.3:6443]
//	    certificate-authority: pki/ca.crt      # or certificate-authority-data: <base64 PEM>
//	- name: local
//	  cluster:
//	    server: http://127.0.0.1:6080          # plain text: loopback addresses only
//	users:
//	- name: admin
//	  user:
//	    client-certificate: pki/admin.crt      # or client-certificate-data
//	    client-key: pki/admin.key              # or client-key-data
//	contexts:
//	- name: prod
//	  context: {cluster: prod, user: admin, namespace: default}
//	current-context: prod
//
// A server is "host:port" or "https://host:port" (TLS, verified against the
// cluster CA and the server certificate's subject alternative names for that
// host, or for tls-server-name when set), or "http://host:port" for the
// apiserver's plain-text loopback listener. A cluster may instead say
// "insecure: true" to reach plain "host:port" servers without TLS. Plain text
// is refused unless every server of the cluster is a loopback address
// (127.0.0.0/8, ::1 or localhost): the apiserver trusts plain-text callers
// as cluster administrators only on loopback. One cluster cannot mix TLS and
// plain-text servers.
//
// Relative certificate paths are relative to the directory of the file.
// Loading is strict: an unknown key, a value of the wrong type, a duplicate
// name or a malformed server is an error that names the file and the field
// (for example "~/.keel/config: clusters[1].cluster.servers[0]: ...").
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/google/renameio/v2"
	"sigs.k8s.io/yaml"
)

// EnvVar is the environment variable naming the configuration file when no
// explicit path is given.
const EnvVar = "KEELCONFIG"

// DefaultNamespace is the namespace of a context that names none.
const DefaultNamespace = "default"

// Config is the whole file. The zero value is an empty configuration.
type Config struct {
	APIVersion     string         `json:"apiVersion,omitempty"`
	Kind           string         `json:"kind,omitempty"`
	Clusters       []NamedCluster `json:"clusters,omitempty"`
	Users          []NamedUser    `json:"users,omitempty"`
	Contexts       []NamedContext `json:"contexts,omitempty"`
	CurrentContext string         `json:"current-context,omitempty"`
	// Preferences and Extensions are a kubeconfig's, kept as they are
	// (kubectl writes "preferences: {}"); Keel reads neither.
	Preferences map[string]any `json:"preferences,omitempty"`
	Extensions  []any          `json:"extensions,omitempty"`

	// Path is the file the configuration was loaded from (or will be saved
	// to); relative certificate paths are relative to its directory. It is
	// not part of the file.
	Path string `json:"-"`
}

// NamedCluster is one entry of clusters.
type NamedCluster struct {
	Name    string  `json:"name"`
	Cluster Cluster `json:"cluster"`
}

// Cluster is how to reach and trust a cluster's apiservers.
type Cluster struct {
	// Server is the kubeconfig's apiserver URL, "https://host:port" (what
	// kubectl and client-go use), or one in the forms of Servers.
	Server string `json:"server,omitempty"`
	// Servers lists further apiservers, Keel's extension of a kubeconfig
	// (kubectl ignores it): "host:port", "https://host:port" or
	// "http://host:port" (plain text, loopback only). Calls are balanced
	// over Server and all of them (see Endpoints).
	Servers []string `json:"servers,omitempty"`
	// CertificateAuthority is a PEM file of the CA(s) that sign the
	// apiservers' certificates; CertificateAuthorityData is the same PEM,
	// base64-encoded, inline. Exactly one is required for TLS.
	CertificateAuthority     string `json:"certificate-authority,omitempty"`
	CertificateAuthorityData string `json:"certificate-authority-data,omitempty"`
	// TLSServerName, when set, is the name every apiserver certificate is
	// verified against instead of each server's host.
	TLSServerName string `json:"tls-server-name,omitempty"`
	// Insecure connects to every server in plain text, without TLS: allowed
	// only when every server is a loopback address.
	Insecure bool `json:"insecure,omitempty"`
}

// Endpoints are the cluster's apiservers: Server, then each of Servers
// that names another address.
func (cl Cluster) Endpoints() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range append([]string{cl.Server}, cl.Servers...) {
		if s == "" {
			continue
		}
		key := s
		if ep, err := ParseServer(s); err == nil {
			key = ep.Address
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, s)
		}
	}
	return out
}

// SetServers makes servers the cluster's apiservers, written as a
// kubeconfig that kubectl reads: the first as Server, a URL with its
// scheme (https://, or http:// for a plain-text cluster), the others, if
// any, in Servers.
func (cl *Cluster) SetServers(servers []string) {
	cl.Server, cl.Servers = "", nil
	if len(servers) == 0 {
		return
	}
	first := servers[0]
	if !strings.Contains(first, "://") {
		scheme := "https://"
		if cl.Insecure {
			scheme = "http://"
		}
		first = scheme + first
	}
	cl.Server = first
	if len(servers) > 1 {
		cl.Servers = servers
	}
}

// NamedUser is one entry of users.
type NamedUser struct {
	Name string `json:"name"`
	User User   `json:"user"`
}

// User is a client identity: a certificate (CN = user, O = groups) and its
// key, each as a file or inline base64-encoded PEM.
type User struct {
	ClientCertificate     string `json:"client-certificate,omitempty"`
	ClientCertificateData string `json:"client-certificate-data,omitempty"`
	ClientKey             string `json:"client-key,omitempty"`
	ClientKeyData         string `json:"client-key-data,omitempty"`
	// Token is a bearer token; TokenFile a file holding one (re-read as it
	// changes), as in a kubeconfig.
	Token     string `json:"token,omitempty"`
	TokenFile string `json:"tokenFile,omitempty"`
}

// NamedContext is one entry of contexts.
type NamedContext struct {
	Name    string  `json:"name"`
	Context Context `json:"context"`
}

// Context ties a cluster, a user and a default namespace together. User may
// be empty for a plain-text loopback cluster.
type Context struct {
	Cluster   string `json:"cluster"`
	User      string `json:"user,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// DefaultPath is ~/.keel/config.
func DefaultPath() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the default client configuration (~/.keel/config): %w", err)
	}
	return filepath.Join(home, ".keel", "config"), nil
}

// KubeconfigEnvVar is kubectl's variable naming its configuration files
// (a list, separated by the OS's path list separator).
const KubeconfigEnvVar = "KUBECONFIG"

// FindPath returns the configuration file to use: explicit if not empty,
// else $KEELCONFIG if set, else the first file of $KUBECONFIG if set (the
// files are not merged as kubectl merges them), else DefaultPath.
func FindPath(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := os.Getenv(EnvVar); p != "" {
		return p, nil
	}
	for _, p := range filepath.SplitList(os.Getenv(KubeconfigEnvVar)) {
		if p != "" {
			return p, nil
		}
	}
	return DefaultPath()
}

// LoadDefault loads the file FindPath(explicit) names.
func LoadDefault(explicit string) (*Config, error) {
	p, err := FindPath(explicit)
	if err != nil {
		return nil, err
	}
	return Load(p)
}

// Load reads and validates the file at path. A missing file is an error
// satisfying errors.Is(err, fs.ErrNotExist).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates data as the contents of the file named path
// (used in errors and to resolve relative certificate paths).
func Parse(path string, data []byte) (*Config, error) {
	var raw any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if raw != nil {
		if _, ok := raw.(map[string]any); !ok {
			return nil, fmt.Errorf("%s: the file must be a YAML mapping, not %s", path, describe(raw))
		}
		// Name every unknown key and mistyped value with its full path;
		// the strict decoder below reports only the first, without indices.
		if problems := checkShape("", raw, reflect.TypeFor[Config]()); len(problems) > 0 {
			return nil, fileErrors(path, problems)
		}
	}
	c := &Config{}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Path = path
	if problems := c.validate(); len(problems) > 0 {
		return nil, fileErrors(path, problems)
	}
	return c, nil
}

// Save writes the configuration to path (c.Path when path is empty), as a
// kubeconfig kubectl reads (see Cluster.SetServers), with
// mode 0600, atomically (a temporary file renamed over the old one), creating
// the directory (0700) if needed. It refuses an invalid configuration.
func (c *Config) Save(path string) error {
	if path == "" {
		path = c.Path
	}
	if path == "" {
		return errors.New("client configuration: no file to save to")
	}
	if problems := c.validate(); len(problems) > 0 {
		return fileErrors(path, problems)
	}
	out := *c
	// A cluster written with Servers only gets its first as Server too,
	// for kubectl.
	out.Clusters = slices.Clone(c.Clusters)
	for i := range out.Clusters {
		if cl := &out.Clusters[i].Cluster; cl.Server == "" {
			cl.SetServers(cl.Servers)
		}
	}
	if out.APIVersion == "" {
		out.APIVersion = "v1"
	}
	if out.Kind == "" {
		out.Kind = "Config"
	}
	data, err := yaml.Marshal(&out)
	if err != nil {
		return fmt.Errorf("%s: encoding: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := renameio.WriteFile(path, data, 0o600, renameio.WithStaticPermissions(0o600)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	c.Path = path
	return nil
}

// Cluster returns the cluster named name.
func (c *Config) Cluster(name string) (*Cluster, bool) {
	for i := range c.Clusters {
		if c.Clusters[i].Name == name {
			return &c.Clusters[i].Cluster, true
		}
	}
	return nil, false
}

// User returns the user named name.
func (c *Config) User(name string) (*User, bool) {
	for i := range c.Users {
		if c.Users[i].Name == name {
			return &c.Users[i].User, true
		}
	}
	return nil, false
}

// Context returns the context named name.
func (c *Config) Context(name string) (*Context, bool) {
	for i := range c.Contexts {
		if c.Contexts[i].Name == name {
			return &c.Contexts[i].Context, true
		}
	}
	return nil, false
}

// SetCluster adds or replaces the cluster named name.
func (c *Config) SetCluster(name string, cl Cluster) {
	if p, ok := c.Cluster(name); ok {
		*p = cl
		return
	}
	c.Clusters = append(c.Clusters, NamedCluster{Name: name, Cluster: cl})
}

// SetUser adds or replaces the user named name.
func (c *Config) SetUser(name string, u User) {
	if p, ok := c.User(name); ok {
		*p = u
		return
	}
	c.Users = append(c.Users, NamedUser{Name: name, User: u})
}

// SetContext adds or replaces the context named name.
func (c *Config) SetContext(name string, ctx Context) {
	if p, ok := c.Context(name); ok {
		*p = ctx
		return
	}
	c.Contexts = append(c.Contexts, NamedContext{Name: name, Context: ctx})
}

// Endpoint is one parsed server of a cluster.
type Endpoint struct {
	// Address is "host:port".
	Address string
	// Host is the host part, without brackets.
	Host string
	// Plaintext is set for an "http://" server.
	Plaintext bool
	// Loopback tells whether Host is a loopback address or "localhost".
	Loopback bool
}

// ParseServer parses one entry of a cluster's servers.
func ParseServer(s string) (Endpoint, error) {
	var ep Endpoint
	rest := s
	switch {
	case strings.HasPrefix(s, "http://"):
		ep.Plaintext = true
		rest = strings.TrimPrefix(s, "http://")
	case strings.HasPrefix(s, "https://"):
		rest = strings.TrimPrefix(s, "https://")
	case strings.Contains(s, "://"):
		return ep, fmt.Errorf("%q: unsupported scheme (use host:port, https://host:port or http://host:port)", s)
	}
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "/?#@") {
		return ep, fmt.Errorf("%q: a server is host:port, without a path, query or user", s)
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return ep, fmt.Errorf("%q: want host:port: %v", s, err)
	}
	if host == "" {
		return ep, fmt.Errorf("%q: no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return ep, fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	ep.Host = host
	ep.Address = net.JoinHostPort(host, port)
	if ip := net.ParseIP(host); ip != nil {
		ep.Loopback = ip.IsLoopback()
	} else {
		ep.Loopback = strings.EqualFold(host, "localhost")
	}
	return ep, nil
}

// validate returns every problem, each prefixed by the field path.
func (c *Config) validate() []string {
	var problems []string
	add := func(field, format string, args ...any) {
		problems = append(problems, field+": "+fmt.Sprintf(format, args...))
	}
	if c.APIVersion != "" && c.APIVersion != "v1" {
		add("apiVersion", "%q is not supported (want v1)", c.APIVersion)
	}
	if c.Kind != "" && c.Kind != "Config" {
		add("kind", "%q is not supported (want Config)", c.Kind)
	}
	seen := map[string]int{}
	for i, nc := range c.Clusters {
		f := fmt.Sprintf("clusters[%d]", i)
		checkName(f, i, nc.Name, seen, add)
		cl := nc.Cluster
		f += ".cluster"
		if len(cl.Endpoints()) == 0 {
			add(f+".server", "a server is required")
		}
		plain, secure := 0, 0
		named := map[string]string{}
		if cl.Server != "" {
			named[f+".server"] = cl.Server
		}
		for j, s := range cl.Servers {
			named[fmt.Sprintf("%s.servers[%d]", f, j)] = s
		}
		for _, sf := range slices.Sorted(maps.Keys(named)) {
			s := named[sf]
			ep, err := ParseServer(s)
			if err != nil {
				add(sf, "%v", err)
				continue
			}
			if ep.Plaintext || cl.Insecure {
				plain++
				if !ep.Loopback {
					add(sf, "%q: plain text (http:// or insecure: true) is allowed only to loopback addresses; use TLS", s)
				}
			} else {
				secure++
			}
		}
		if plain > 0 && secure > 0 {
			add(f+".servers", "mixes plain-text (http://) and TLS servers; one cluster uses one or the other")
		}
		if cl.CertificateAuthority != "" && cl.CertificateAuthorityData != "" {
			add(f+".certificate-authority-data", "set only one of certificate-authority and certificate-authority-data")
		}
		if err := checkBase64(cl.CertificateAuthorityData); err != nil {
			add(f+".certificate-authority-data", "%v", err)
		}
		if cl.Insecure && (cl.CertificateAuthority != "" || cl.CertificateAuthorityData != "" || cl.TLSServerName != "") {
			add(f+".insecure", "an insecure (plain-text) cluster cannot also set certificate-authority or tls-server-name")
		}
	}
	seen = map[string]int{}
	for i, nu := range c.Users {
		f := fmt.Sprintf("users[%d]", i)
		checkName(f, i, nu.Name, seen, add)
		u := nu.User
		f += ".user"
		if u.ClientCertificate != "" && u.ClientCertificateData != "" {
			add(f+".client-certificate-data", "set only one of client-certificate and client-certificate-data")
		}
		if u.ClientKey != "" && u.ClientKeyData != "" {
			add(f+".client-key-data", "set only one of client-key and client-key-data")
		}
		hasCert := u.ClientCertificate != "" || u.ClientCertificateData != ""
		hasKey := u.ClientKey != "" || u.ClientKeyData != ""
		if hasCert && !hasKey {
			add(f+".client-key", "a client certificate needs its key (client-key or client-key-data)")
		}
		if hasKey && !hasCert {
			add(f+".client-certificate", "a client key needs its certificate (client-certificate or client-certificate-data)")
		}
		if err := checkBase64(u.ClientCertificateData); err != nil {
			add(f+".client-certificate-data", "%v", err)
		}
		if err := checkBase64(u.ClientKeyData); err != nil {
			add(f+".client-key-data", "%v", err)
		}
	}
	seen = map[string]int{}
	for i, nc := range c.Contexts {
		f := fmt.Sprintf("contexts[%d]", i)
		checkName(f, i, nc.Name, seen, add)
		if nc.Context.Cluster == "" {
			add(f+".context.cluster", "required")
		}
	}
	return problems
}

func checkName(field string, index int, name string, seen map[string]int, add func(field, format string, args ...any)) {
	if name == "" {
		add(field+".name", "required")
		return
	}
	if j, dup := seen[name]; dup {
		add(field+".name", "%q is also the name of entry %d", name, j)
		return
	}
	seen[name] = index
}

func checkBase64(s string) error {
	if s == "" {
		return nil
	}
	if _, err := base64.StdEncoding.DecodeString(s); err != nil {
		return fmt.Errorf("not valid base64: %v", err)
	}
	return nil
}

// Error is every problem of one configuration file.
type Error struct {
	Path     string
	Problems []string // each "field: message"
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return e.Path + ": " + e.Problems[0]
	}
	return e.Path + ": " + strconv.Itoa(len(e.Problems)) + " problems:\n  " + strings.Join(e.Problems, "\n  ")
}

func fileErrors(path string, problems []string) error {
	return &Error{Path: path, Problems: problems}
}

// checkShape walks a decoded YAML value against the Go type it will be
// decoded into and reports unknown keys and mistyped values by path.
func checkShape(path string, v any, t reflect.Type) []string {
	at := func(s string) string {
		if path == "" {
			return s
		}
		return path + ": " + s
	}
	if v == nil {
		return nil // null: the zero value
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return []string{at("want a mapping, not " + describe(v))}
		}
		fields := map[string]reflect.StructField{}
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields[name] = sf
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var problems []string
		for _, k := range keys {
			child := k
			if path != "" {
				child = path + "." + k
			}
			sf, ok := fields[k]
			if !ok {
				problems = append(problems, child+": unknown field")
				continue
			}
			problems = append(problems, checkShape(child, m[k], sf.Type)...)
		}
		return problems
	case reflect.Slice:
		s, ok := v.([]any)
		if !ok {
			return []string{at("want a list, not " + describe(v))}
		}
		var problems []string
		for i, item := range s {
			problems = append(problems, checkShape(fmt.Sprintf("%s[%d]", path, i), item, t.Elem())...)
		}
		return problems
	case reflect.String:
		if _, ok := v.(string); !ok {
			return []string{at("want a string, not " + describe(v))}
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return []string{at("want true or false, not " + describe(v))}
		}
	}
	return nil
}

func describe(v any) string {
	switch v := v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", v)
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	case float64, int64, int:
		return fmt.Sprintf("the number %v", v)
	}
	return fmt.Sprintf("%v", v)
}
