// Command pause is Keel's pod sandbox process: the first process of every pod,
// holding the pod's namespaces open while its containers come and go.
//
// It does nothing but wait. On SIGTERM or SIGINT it exits 0 at once, so a
// sandbox stop never waits for the SIGKILL timeout. Running as PID 1 of a
// shared PID namespace it also adopts orphaned processes, so it reaps every
// child that exits (SIGCHLD) to keep zombies from piling up.
//
// Build it static: CGO_ENABLED=0 go build -trimpath ./cmd/pause
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is reported by -v; images are tagged with it (pkg/testimages).
const version = "3.9-keel"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-v", "--version", "version":
			fmt.Println("pause", version)
			os.Exit(0)
		default:
			fmt.Fprintf(os.Stderr, "usage: pause [-v]\n")
			os.Exit(2)
		}
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	// The handlers are in place: from here on SIGTERM means exit 0. The line
	// tells a watcher (the unit test) that it may signal now.
	fmt.Fprintln(os.Stderr, "pause", version+": waiting for SIGTERM or SIGINT")
	os.Exit(run(sigs))
}

// run waits for a termination signal, reaping children on SIGCHLD, and
// returns the exit code.
func run(sigs <-chan os.Signal) int {
	for sig := range sigs {
		switch sig {
		case syscall.SIGCHLD:
			reapChildren()
		default:
			return 0
		}
	}
	return 0
}

// reapChildren collects the exit status of every child that has already
// exited, without blocking. It returns how many it reaped.
func reapChildren() int {
	n := 0
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return n
		}
		n++
	}
}
