// Package version tells which build of Keel is running: the release
// version and git commit that the Makefile stamps into every binary at link
// time (-ldflags "-X keel.dev/keel/pkg/version.gitVersion=…
// -X keel.dev/keel/pkg/version.gitCommit=…"), else what the Go toolchain
// recorded (the module version, vcs.revision), else v0.0.0-devel.
//
// Every daemon reports it with --version and as the metric keel_build_info;
// keelctl with `keelctl version`.
package version

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Set at link time by the Makefile; empty in a plain `go build`.
var (
	gitVersion = ""
	gitCommit  = ""
)

// Devel is the version of a build that was not stamped and has no module
// version.
const Devel = "v0.0.0-devel"

// Info describes this binary.
type Info struct {
	// GitVersion is the release version, e.g. v0.3.0 or v0.3.0-12-gabc1234.
	GitVersion string
	// GitCommit is the full commit hash, "" when unknown.
	GitCommit string
	// Modified tells that the tree had uncommitted changes (toolchain
	// information only; a stamped version says so with a -dirty suffix).
	Modified  bool
	GoVersion string
	// Platform is GOOS/GOARCH.
	Platform string
}

// Get returns this binary's Info.
func Get() Info {
	i := Info{GitVersion: gitVersion, GitCommit: gitCommit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.GitVersion == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.GitVersion = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && i.GitCommit == "":
				i.GitCommit = s.Value
			case s.Key == "vcs.modified" && gitCommit == "":
				i.Modified = s.Value == "true"
			}
		}
	}
	if i.GitVersion == "" {
		i.GitVersion = Devel
	}
	return i
}

// String is one line: "v0.3.0 (commit 0123456789ab) go1.26.8 linux/amd64".
func (i Info) String() string {
	v := i.GitVersion
	if i.GitCommit != "" {
		c := i.GitCommit
		if len(c) > 12 {
			c = c[:12]
		}
		v += " (commit " + c
		if i.Modified {
			v += ", modified"
		}
		v += ")"
	}
	return fmt.Sprintf("%s %s %s", v, i.GoVersion, i.Platform)
}

// Register adds the gauge keel_build_info (always 1, the build in its
// labels git_version, git_commit, go_version and platform, as Kubernetes'
// kubernetes_build_info) to r. Registering it again is not an error.
func Register(r prometheus.Registerer) error {
	i := Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "keel_build_info",
		Help: "A metric with a constant value 1 whose labels describe the running build.",
		ConstLabels: prometheus.Labels{
			"git_version": i.GitVersion, "git_commit": i.GitCommit, "go_version": i.GoVersion, "platform": i.Platform,
		},
	})
	g.Set(1)
	var are prometheus.AlreadyRegisteredError
	if err := r.Register(g); err != nil && !errors.As(err, &are) {
		return err
	}
	return nil
}
