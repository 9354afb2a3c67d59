#!/usr/bin/env bash
# `make bench`: runs every benchmark program and prints its figures with
# their conditions. Needs the binaries in bin/ (make build) and Debian's
# etcd-server (hack/install-deps.sh). Not a test: nothing here passes or fails
# on a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./hack/bench/apiserver -apiserver bin/keel-apiserver "$@"
