// Command kubectl is kubectl built from the k8s.io/kubectl module at the
// version go.mod pins, for machines where none is installed
// (hack/install-deps.sh): Keel's end-to-end tests drive it against the
// REST API.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() {
	cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand())
}
