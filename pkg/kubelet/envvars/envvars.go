// Package envvars computes a container's environment as the Kubernetes
// kubelet does: service links, envFrom, env values with $(VAR) expansion,
// and env values taken from configMaps, secrets, pod fields and container
// resources.
package envvars

import (
	"errors"
	"fmt"
	"math"
	"net"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// Source is what env resolution reads. The kubelet passes informer-backed
// listers. A missing object is reported with an apierrors NotFound error;
// any other error aborts the resolution.
type Source interface {
	ConfigMap(ns, name string) (*corev1.ConfigMap, error)
	Secret(ns, name string) (*corev1.Secret, error)
	// Services returns the services of namespace ns.
	Services(ns string) ([]*corev1.Service, error)
}

// NodeAllocatable may be implemented by a Source to give the node's
// allocatable resources ("cpu", "memory", "ephemeral-storage"), which a
// resourceFieldRef to a limit the container does not set reports, as in
// Kubernetes. Without it (or for a resource it lacks) the machine's
// capacity is used.
type NodeAllocatable interface {
	NodeAllocatable() map[string]resource.Quantity
}

// KubernetesServiceName is the service whose variables every pod gets (from
// the default namespace) even without service links.
const KubernetesServiceName = "kubernetes"

// Resolve computes the environment of container c of pod, with podIP and
// hostIP as the pod's addresses (overriding pod.status, which may not be
// written yet), in this order of precedence, later winning:
//
//  1. envFrom sources in order: every key of the configMap/secret, with
//     the prefix; keys that are not valid variable names are skipped. A
//     missing object is an error unless optional.
//  2. env entries in order: value, with $(VAR) referring to variables
//     defined before it (in 1 or 2) or to service variables ($$ escapes a
//     $, and unknown references stay as written); valueFrom configMapKeyRef
//     / secretKeyRef (a missing object or key is an error unless optional,
//     in which case the variable is left out); fieldRef; resourceFieldRef.
//  3. service variables not defined by 1 or 2: FOO_SERVICE_HOST,
//     FOO_SERVICE_PORT[_NAME] and the docker-link style FOO_PORT,
//     FOO_PORT_80_TCP{,_PROTO,_PORT,_ADDR} for every service with a cluster
//     IP in the pod's namespace when spec.enableServiceLinks is true (the
//     default), and always for the "kubernetes" service of the default
//     namespace (a same-named service of the pod's namespace taking
//     precedence).
//
// The result lists variables in the order they were first defined (the
// service variables last, by service name). Errors name the variable and
// the missing object or key.
func Resolve(pod *corev1.Pod, c *corev1.Container, podIP, hostIP string, src Source) ([]*runtimeapi.KeyValue, error) {
	ns := pod.GetMetadata().GetNamespace()
	svcEnv, err := serviceEnv(pod, src)
	if err != nil {
		return nil, err
	}
	svcMap := make(map[string]string, len(svcEnv))
	for _, kv := range svcEnv {
		svcMap[kv.Key] = string(kv.Value)
	}
	env := &orderedEnv{index: map[string]int{}}

	for i, from := range c.GetEnvFrom() {
		switch {
		case from.GetConfigMapRef() != nil:
			ref := from.GetConfigMapRef()
			cm, err := src.ConfigMap(ns, ref.GetName())
			if apierrors.IsNotFound(err) && ref.GetOptional() {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("envFrom[%d]: %s", i, objectErr("configmap", ref.GetName(), err))
			}
			for _, k := range sortedKeys(cm.GetData()) {
				if name := from.GetPrefix() + k; validName(name) {
					env.set(name, cm.GetData()[k])
				}
			}
		case from.GetSecretRef() != nil:
			ref := from.GetSecretRef()
			s, err := src.Secret(ns, ref.GetName())
			if apierrors.IsNotFound(err) && ref.GetOptional() {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("envFrom[%d]: %s", i, objectErr("secret", ref.GetName(), err))
			}
			for _, k := range sortedKeys(s.GetData()) {
				if name := from.GetPrefix() + k; validName(name) {
					env.set(name, string(s.GetData()[k]))
				}
			}
		}
	}

	lookup := func(name string) (string, bool) {
		if v, ok := env.get(name); ok {
			return v, true
		}
		v, ok := svcMap[name]
		return v, ok
	}
	for _, e := range c.GetEnv() {
		name := e.GetName()
		vf := e.GetValueFrom()
		if vf == nil {
			env.set(name, Expand(e.GetValue(), lookup))
			continue
		}
		var value string
		switch {
		case vf.GetConfigMapKeyRef() != nil:
			ref := vf.GetConfigMapKeyRef()
			cm, err := src.ConfigMap(ns, ref.GetName())
			if apierrors.IsNotFound(err) && ref.GetOptional() {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("env var %q: %s", name, objectErr("configmap", ref.GetName(), err))
			}
			v, ok := cm.GetData()[ref.GetKey()]
			if !ok {
				if b, bok := cm.GetBinaryData()[ref.GetKey()]; bok {
					v, ok = string(b), true
				}
			}
			if !ok {
				if ref.GetOptional() {
					continue
				}
				return nil, fmt.Errorf("env var %q: key %q not found in configmap %q", name, ref.GetKey(), ref.GetName())
			}
			value = v
		case vf.GetSecretKeyRef() != nil:
			ref := vf.GetSecretKeyRef()
			s, err := src.Secret(ns, ref.GetName())
			if apierrors.IsNotFound(err) && ref.GetOptional() {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("env var %q: %s", name, objectErr("secret", ref.GetName(), err))
			}
			b, ok := s.GetData()[ref.GetKey()]
			if !ok {
				if ref.GetOptional() {
					continue
				}
				return nil, fmt.Errorf("env var %q: key %q not found in secret %q", name, ref.GetKey(), ref.GetName())
			}
			value = string(b)
		case vf.GetFieldRef() != nil:
			v, err := FieldValue(pod, vf.GetFieldRef().GetFieldPath(), podIP, hostIP)
			if err != nil {
				return nil, fmt.Errorf("env var %q: %v", name, err)
			}
			value = v
		case vf.GetResourceFieldRef() != nil:
			v, err := ResourceValue(pod, c, vf.GetResourceFieldRef(), src)
			if err != nil {
				return nil, fmt.Errorf("env var %q: %v", name, err)
			}
			value = v
		default:
			return nil, fmt.Errorf("env var %q: valueFrom has no source", name)
		}
		env.set(name, value)
	}

	for _, kv := range svcEnv {
		if _, ok := env.get(kv.Key); !ok {
			env.set(kv.Key, string(kv.Value))
		}
	}
	return env.list, nil
}

// orderedEnv keeps variables in the order they were first set.
type orderedEnv struct {
	list  []*runtimeapi.KeyValue
	index map[string]int
}

func (e *orderedEnv) set(k, v string) {
	if i, ok := e.index[k]; ok {
		e.list[i].Value = []byte(v)
		return
	}
	e.index[k] = len(e.list)
	e.list = append(e.list, &runtimeapi.KeyValue{Key: k, Value: []byte(v)})
}

func (e *orderedEnv) get(k string) (string, bool) {
	if i, ok := e.index[k]; ok {
		return string(e.list[i].Value), true
	}
	return "", false
}

func objectErr(kind, name string, err error) string {
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("%s %q not found", kind, name)
	}
	return fmt.Sprintf("reading %s %q: %v", kind, name, err)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validName tells whether name can be an environment variable name: printable
// ASCII without '=', as Kubernetes accepts.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 32 || name[i] > 126 || name[i] == '=' {
			return false
		}
	}
	return true
}

// Expand replaces each $(NAME) in s with lookup(NAME) when it is defined
// and leaves it as written otherwise; $$ stands for a single $ (so
// $$(NAME) gives the literal $(NAME)). Any other $ is kept.
func Expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) {
			switch s[i+1] {
			case '$':
				b.WriteByte('$')
				i++
				continue
			case '(':
				if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
					name := s[i+2 : i+2+end]
					if v, ok := lookup(name); ok && name != "" {
						b.WriteString(v)
					} else {
						b.WriteString("$(" + name + ")")
					}
					i += 2 + end
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// FieldValue returns the value of a fieldRef path of pod: metadata.name,
// metadata.namespace, metadata.uid, metadata.labels['KEY'],
// metadata.annotations['KEY'] (empty when absent), spec.nodeName,
// spec.serviceAccountName, status.podIP, status.podIPs, status.hostIP,
// status.hostIPs (comma-separated). podIP and hostIP, when not empty, are
// the pod's primary addresses.
func FieldValue(pod *corev1.Pod, path, podIP, hostIP string) (string, error) {
	md := pod.GetMetadata()
	if k, ok := subscript(path, "metadata.labels"); ok {
		return md.GetLabels()[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return md.GetAnnotations()[k], nil
	}
	st := pod.GetStatus()
	switch path {
	case "metadata.name":
		return md.GetName(), nil
	case "metadata.namespace":
		return md.GetNamespace(), nil
	case "metadata.uid":
		return md.GetUid(), nil
	case "spec.nodeName":
		return pod.GetSpec().GetNodeName(), nil
	case "spec.serviceAccountName":
		return pod.GetSpec().GetServiceAccountName(), nil
	case "status.podIP":
		if podIP != "" {
			return podIP, nil
		}
		return st.GetPodIp(), nil
	case "status.hostIP":
		if hostIP != "" {
			return hostIP, nil
		}
		return st.GetHostIp(), nil
	case "status.podIPs":
		var ips []string
		for _, ip := range st.GetPodIps() {
			ips = append(ips, ip.GetIp())
		}
		return strings.Join(primaryFirst(podIP, st.GetPodIp(), ips), ","), nil
	case "status.hostIPs":
		var ips []string
		for _, ip := range st.GetHostIps() {
			ips = append(ips, ip.GetIp())
		}
		return strings.Join(primaryFirst(hostIP, st.GetHostIp(), ips), ","), nil
	}
	return "", fmt.Errorf("unsupported fieldRef fieldPath %q", path)
}

// subscript parses "prefix['key']".
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok || !strings.HasSuffix(rest, "']") {
		return "", false
	}
	return strings.TrimSuffix(rest, "']"), true
}

// primaryFirst returns the addresses with the primary one first, once.
func primaryFirst(primary, statusPrimary string, all []string) []string {
	if primary == "" {
		primary = statusPrimary
	}
	var out []string
	if primary != "" {
		out = append(out, primary)
	}
	for _, ip := range all {
		if ip != "" && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

// ResourceValue is the value of a resourceFieldRef (limits or requests of
// cpu, memory or ephemeral-storage, divided by the divisor and rounded
// up) of the container ref names, or of c when it names none (c nil: the
// name is required). A limit the container does not set is the node's
// allocatable amount (from src, when it implements NodeAllocatable).
func ResourceValue(pod *corev1.Pod, c *corev1.Container, ref *corev1.ResourceFieldSelector, src any) (string, error) {
	target := c
	if name := ref.GetContainerName(); name == "" && c == nil {
		return "", errors.New("resourceFieldRef: containerName is required")
	} else if name != "" && name != c.GetName() {
		target = nil
		for _, x := range append(slices.Clone(pod.GetSpec().GetContainers()), pod.GetSpec().GetInitContainers()...) {
			if x.GetName() == name {
				target = x
				break
			}
		}
		if target == nil {
			return "", fmt.Errorf("resourceFieldRef: no container %q in the pod", name)
		}
	}
	kind, res, ok := strings.Cut(ref.GetResource(), ".")
	if !ok || (kind != "limits" && kind != "requests") || (res != "cpu" && res != "memory" && res != "ephemeral-storage") {
		return "", fmt.Errorf("unsupported resourceFieldRef resource %q", ref.GetResource())
	}
	divisor := resource.MustParse("1")
	if d := ref.GetDivisor().GetString_(); d != "" {
		q, err := resource.ParseQuantity(d)
		if err != nil {
			return "", fmt.Errorf("resourceFieldRef divisor %q: %v", d, err)
		}
		divisor = q
	}
	if divisor.Sign() <= 0 {
		return "", fmt.Errorf("resourceFieldRef divisor %q must be positive", divisor.String())
	}
	limits, requests := target.GetResources().GetLimits(), target.GetResources().GetRequests()
	var q resource.Quantity
	var set bool
	parse := func(s string) error {
		v, err := resource.ParseQuantity(s)
		if err != nil {
			return fmt.Errorf("container %q %s: %v", target.GetName(), ref.GetResource(), err)
		}
		q, set = v, true
		return nil
	}
	if kind == "requests" {
		if r, ok := requests[res]; ok {
			if err := parse(r.GetString_()); err != nil {
				return "", err
			}
		} else if l, ok := limits[res]; ok { // a limit without a request is the request
			if err := parse(l.GetString_()); err != nil {
				return "", err
			}
		}
	} else if l, ok := limits[res]; ok {
		if err := parse(l.GetString_()); err != nil {
			return "", err
		}
	} else {
		q, set = allocatable(res, src)
	}
	if !set {
		q = resource.Quantity{}
	}
	if res == "cpu" {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
}

// allocatable is the node's allocatable amount of res (for a limit the
// container does not set): from the Source if it knows, else the machine's.
func allocatable(res string, src any) (resource.Quantity, bool) {
	if na, ok := src.(NodeAllocatable); ok {
		if q, ok := na.NodeAllocatable()[res]; ok {
			return q, true
		}
	}
	switch res {
	case "cpu":
		return *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI), true
	case "memory":
		var si syscall.Sysinfo_t
		if err := syscall.Sysinfo(&si); err == nil {
			return *resource.NewQuantity(int64(si.Totalram)*int64(si.Unit), resource.BinarySI), true
		}
	case "ephemeral-storage":
		var fs syscall.Statfs_t
		if err := syscall.Statfs("/", &fs); err == nil {
			return *resource.NewQuantity(int64(fs.Blocks)*fs.Bsize, resource.BinarySI), true
		}
	}
	return resource.Quantity{}, false
}

// serviceEnv returns the service variables pod gets (see Resolve), by
// service name.
func serviceEnv(pod *corev1.Pod, src Source) ([]*runtimeapi.KeyValue, error) {
	ns := pod.GetMetadata().GetNamespace()
	links := pod.GetSpec().EnableServiceLinks == nil || pod.GetSpec().GetEnableServiceLinks()
	byName := map[string]*corev1.Service{}
	if ns != "default" {
		svcs, err := src.Services("default")
		if err != nil {
			return nil, fmt.Errorf("listing services of namespace \"default\": %w", err)
		}
		for _, s := range svcs {
			if s.GetMetadata().GetName() == KubernetesServiceName && hasClusterIP(s) {
				byName[KubernetesServiceName] = s
			}
		}
	}
	svcs, err := src.Services(ns)
	if err != nil {
		return nil, fmt.Errorf("listing services of namespace %q: %w", ns, err)
	}
	for _, s := range svcs {
		name := s.GetMetadata().GetName()
		if !hasClusterIP(s) {
			continue
		}
		if links || (ns == "default" && name == KubernetesServiceName) {
			byName[name] = s
		}
	}
	list := make([]*corev1.Service, 0, len(byName))
	for _, n := range sortedKeys(byName) {
		list = append(list, byName[n])
	}
	return FromServices(list), nil
}

func hasClusterIP(s *corev1.Service) bool {
	ip := s.GetSpec().GetClusterIp()
	return ip != "" && ip != api.ClusterIPNone
}

// FromServices returns the variables of services, in order, for each one
// with a cluster IP: NAME_SERVICE_HOST, NAME_SERVICE_PORT (its first port),
// NAME_SERVICE_PORT_PORTNAME for each named port, and the docker-link
// variables NAME_PORT (first port's URL) and, per port,
// NAME_PORT_<port>_<PROTO> (URL), _PROTO, _PORT and _ADDR. NAME is the
// service name upper-cased with '-' made '_'.
func FromServices(services []*corev1.Service) []*runtimeapi.KeyValue {
	var out []*runtimeapi.KeyValue
	add := func(k, v string) { out = append(out, &runtimeapi.KeyValue{Key: k, Value: []byte(v)}) }
	for _, s := range services {
		if !hasClusterIP(s) {
			continue
		}
		prefix := envName(s.GetMetadata().GetName())
		ip := s.GetSpec().GetClusterIp()
		ports := s.GetSpec().GetPorts()
		add(prefix+"_SERVICE_HOST", ip)
		if len(ports) == 0 {
			continue
		}
		add(prefix+"_SERVICE_PORT", strconv.Itoa(int(ports[0].GetPort())))
		for _, p := range ports {
			if p.GetName() != "" {
				add(prefix+"_SERVICE_PORT_"+envName(p.GetName()), strconv.Itoa(int(p.GetPort())))
			}
		}
		for i, p := range ports {
			proto := p.GetProtocol()
			if proto == "" {
				proto = api.ProtocolTCP
			}
			port := strconv.Itoa(int(p.GetPort()))
			url := strings.ToLower(proto) + "://" + net.JoinHostPort(ip, port)
			if i == 0 {
				add(prefix+"_PORT", url)
			}
			pp := prefix + "_PORT_" + port + "_" + strings.ToUpper(proto)
			add(pp, url)
			add(pp+"_PROTO", strings.ToLower(proto))
			add(pp+"_PORT", port)
			add(pp+"_ADDR", ip)
		}
	}
	return out
}

func envName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }
