package version

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestStampedVersion(t *testing.T) {
	defer func(v, c string) { gitVersion, gitCommit = v, c }(gitVersion, gitCommit)
	gitVersion, gitCommit = "v0.3.0-2-gabcdef0", "abcdef0123456789abcdef0123456789abcdef01"
	i := Get()
	if i.GitVersion != gitVersion || i.GitCommit != gitCommit || i.Modified {
		t.Fatalf("Get() = %+v, want the stamped version and commit", i)
	}
	if s := i.String(); !strings.HasPrefix(s, "v0.3.0-2-gabcdef0 (commit abcdef012345) go") || !strings.HasSuffix(s, i.Platform) {
		t.Errorf("String() = %q", s)
	}

	r := prometheus.NewRegistry()
	for range 2 { // a second registration is fine
		if err := Register(r); err != nil {
			t.Fatal(err)
		}
	}
	want := `# HELP keel_build_info A metric with a constant value 1 whose labels describe the running build.
# TYPE keel_build_info gauge
keel_build_info{git_commit="abcdef0123456789abcdef0123456789abcdef01",git_version="v0.3.0-2-gabcdef0",go_version="` + i.GoVersion + `",platform="` + i.Platform + `"} 1
`
	if err := testutil.GatherAndCompare(r, strings.NewReader(want), "keel_build_info"); err != nil {
		t.Error(err)
	}
}

func TestUnstampedVersion(t *testing.T) {
	defer func(v, c string) { gitVersion, gitCommit = v, c }(gitVersion, gitCommit)
	gitVersion, gitCommit = "", ""
	// A test binary has no module version: the development version.
	if v := Get().GitVersion; v != Devel {
		t.Errorf("GitVersion = %q, want %q", v, Devel)
	}
}
