package api

import (
	"strings"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func TestIntOrStringConstructors(t *testing.T) {
	cases := []struct {
		name       string
		v          *metav1.IntOrString
		wantString bool
		wantText   string
	}{
		{"int", IntOrStringFromInt(8080), false, "8080"},
		{"zero", IntOrStringFromInt(0), false, "0"},
		{"name", IntOrStringFromString("http"), true, "http"},
		{"percent", IntOrStringFromString("25%"), true, "25%"},
		{"nil", nil, false, "0"},
	}
	for _, c := range cases {
		if got := IsIntOrStringString(c.v); got != c.wantString {
			t.Errorf("%s: IsIntOrStringString = %v, want %v", c.name, got, c.wantString)
		}
		x := ToIntstr(c.v)
		if got := x.String(); got != c.wantText {
			t.Errorf("%s: ToIntstr().String() = %q, want %q", c.name, got, c.wantText)
		}
	}
	// The wire form: type 0 with int_val, type 1 with str_val.
	if v := IntOrStringFromInt(7); v.GetType() != 0 || v.GetIntVal() != 7 || v.GetStrVal() != "" {
		t.Errorf("IntOrStringFromInt(7) = %v", v)
	}
	if v := IntOrStringFromString("x"); v.GetType() != 1 || v.GetStrVal() != "x" || v.GetIntVal() != 0 {
		t.Errorf("IntOrStringFromString(x) = %v", v)
	}
}

func TestScaledValue(t *testing.T) {
	cases := []struct {
		name    string
		v       *metav1.IntOrString
		total   int
		roundUp bool
		want    int
		wantErr bool
	}{
		{"int is kept", IntOrStringFromInt(3), 10, false, 3, false},
		{"int above total is kept", IntOrStringFromInt(30), 10, true, 30, false},
		{"25% of 10 down", IntOrStringFromString("25%"), 10, false, 2, false},
		{"25% of 10 up", IntOrStringFromString("25%"), 10, true, 3, false},
		{"100%", IntOrStringFromString("100%"), 7, false, 7, false},
		{"0%", IntOrStringFromString("0%"), 7, true, 0, false},
		{"not a percent", IntOrStringFromString("abc"), 10, false, 0, true},
		{"nil", nil, 10, false, 0, true},
	}
	for _, c := range cases {
		got, err := ScaledValue(c.v, c.total, c.roundUp)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("%s: ScaledValue = %d, %v; want %d, error %v", c.name, got, err, c.want, c.wantErr)
		}
	}
}

func TestFindContainerPort(t *testing.T) {
	c := &corev1.Container{Name: "app", Ports: []*corev1.ContainerPort{
		{Name: "http", ContainerPort: 8080},
		{Name: "dns", ContainerPort: 53, Protocol: "UDP"},
		{Name: "dns-tcp", ContainerPort: 5353, Protocol: "TCP"},
	}}
	cases := []struct {
		name, port, protocol string
		want                 int32
		ok                   bool
	}{
		{"any protocol", "http", "", 8080, true},
		{"unset protocol is TCP", "http", "TCP", 8080, true},
		{"wrong protocol", "http", "UDP", 0, false},
		{"udp", "dns", "UDP", 53, true},
		{"udp port asked as tcp", "dns", "TCP", 0, false},
		{"explicit tcp", "dns-tcp", "TCP", 5353, true},
		{"missing", "metrics", "", 0, false},
	}
	for _, tc := range cases {
		got, ok := FindContainerPort(c, tc.port, tc.protocol)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: FindContainerPort(%q, %q) = %d, %v; want %d, %v", tc.name, tc.port, tc.protocol, got, ok, tc.want, tc.ok)
		}
	}
}

func TestResolvePodPort(t *testing.T) {
	pod := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec: &corev1.PodSpec{
			InitContainers: []*corev1.Container{{Name: "init", Ports: []*corev1.ContainerPort{{Name: "setup", ContainerPort: 9000}}}},
			Containers: []*corev1.Container{
				{Name: "a", Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}},
				{Name: "b", Ports: []*corev1.ContainerPort{{Name: "metrics", ContainerPort: 9090}, {Name: "http", ContainerPort: 8081}}},
			},
		},
	}
	cases := []struct {
		name     string
		port     *metav1.IntOrString
		protocol string
		want     int32
		wantErr  string
	}{
		{"number", IntOrStringFromInt(80), "TCP", 80, ""},
		{"nil is zero", nil, "TCP", 0, ""},
		{"named, first container wins", IntOrStringFromString("http"), "TCP", 8080, ""},
		{"named in second container", IntOrStringFromString("metrics"), "", 9090, ""},
		{"init containers are not looked at", IntOrStringFromString("setup"), "TCP", 0, `no container port named "setup" (TCP) in pod ns/web`},
		{"wrong protocol", IntOrStringFromString("http"), "UDP", 0, `no container port named "http" (UDP) in pod ns/web`},
	}
	for _, c := range cases {
		got, err := ResolvePodPort(pod, c.port, c.protocol)
		if got != c.want || (err == nil) != (c.wantErr == "") || (err != nil && err.Error() != c.wantErr) {
			t.Errorf("%s: ResolvePodPort = %d, %v; want %d, %q", c.name, got, err, c.want, c.wantErr)
		}
	}
}

func TestResolveContainerPort(t *testing.T) {
	c := &corev1.Container{Name: "app", Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "dns", ContainerPort: 53, Protocol: "UDP"}}}
	cases := []struct {
		name    string
		port    *metav1.IntOrString
		want    int32
		wantErr string
	}{
		{"number", IntOrStringFromInt(9000), 9000, ""},
		{"named", IntOrStringFromString("http"), 8080, ""},
		{"named, any protocol", IntOrStringFromString("dns"), 53, ""},
		{"digits", IntOrStringFromString("8443"), 8443, ""},
		{"unknown name", IntOrStringFromString("grpc"), 0, `container "app" has no port named "grpc"`},
		{"nil", nil, 0, "no port"},
		{"zero", IntOrStringFromInt(0), 0, "invalid port 0"},
		{"too large", IntOrStringFromInt(70000), 0, "invalid port 70000"},
		{"negative digits", IntOrStringFromString("-1"), 0, "invalid port -1"},
	}
	for _, tc := range cases {
		got, err := ResolveContainerPort(tc.port, c)
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: ResolveContainerPort = %d, %v; want %d, %q", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}
