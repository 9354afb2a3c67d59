// Command keelctl is the Keel command line; see package
// keel.dev/keel/pkg/keelctl/cmd.
package main

import (
	"os"

	"keel.dev/keel/pkg/keelctl/cmd"
)

func main() {
	os.Exit(cmd.Run(os.Args[1:], os.Stdout, os.Stderr))
}
