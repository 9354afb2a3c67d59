#!/usr/bin/env bash
# `make bench`: runs every benchmark program and prints its figures with
# their conditions. Needs the binaries in bin/ (make build) and Debian's
# etcd-server (hack/install-deps.sh). Not a test: nothing here passes or fails
# on a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
# RUNS sets the repetitions of every workload (default 3). Run a program
# alone for its own flags, e.g. go run ./hack/bench/apiserver -help.
runs=${RUNS:-3}
# The control plane serves TLS only, each daemon calling as itself (hollow
# nodes as system:node:NAME) and the benchmark clients as a user bound to a
# role. BENCH_AUTHZ lists the --authorization-mode settings compared
# (space-separated; default "Node,RBAC AlwaysAllow"): the create workload and
# sched-e2e-100 / sched-backlog-100 run under each, everything else under
# the first.
export BENCH_AUTHZ=${BENCH_AUTHZ:-Node,RBAC AlwaysAllow}
# The scenario "overload" (2,000 clients for 30 s, once: its figures are
# of one long run). BENCH_ONLY=overload (make bench-overload) runs it alone.
if [ "${BENCH_ONLY:-}" = overload ]; then
  exec go run ./hack/bench/overload -apiserver bin/keel-apiserver
fi
go run ./hack/bench/apiserver -apiserver bin/keel-apiserver -runs "$runs"
echo
go run ./hack/bench/overload -apiserver bin/keel-apiserver
echo
go run ./hack/bench/client -apiserver bin/keel-apiserver -runs "$runs"
echo
# create-32 and list-1000 over REST/JSON (client-go), beside gRPC and, when
# hack/bench/k8sref/build.sh has built it, Kubernetes' kube-apiserver.
go run ./hack/bench/rest -apiserver bin/keel-apiserver -runs "$runs"
echo
go run ./hack/bench/scheduler -apiserver bin/keel-apiserver -scheduler bin/keel-scheduler -runs "$runs"
echo
go run ./hack/bench/controller -runs "$runs"
echo
# pv-provision-200: 200 claims bound on 20 hollow nodes.
go run ./hack/bench/storage -runs "$runs"
echo
# The same on Kubernetes 1.31 with 20 kwok nodes and the in-tree host-path
# provisioner, when hack/bench/k8sref/build.sh has built the reference in
# K8SREF (default /opt/k8sref).
k8sref=${K8SREF:-/opt/k8sref}
missing=
for f in bin/kube-apiserver bin/kube-controller-manager bin/kube-scheduler bin/kwok kwok-stages.yaml; do
  [ -e "$k8sref/$f" ] || missing="$missing $k8sref/$f"
done
if [ -z "$missing" ]; then
  go run ./hack/bench/k8sref -bin "$k8sref/bin" -kwok-stages "$k8sref/kwok-stages.yaml" -workloads pv -nodes 20 -claims 200 -runs "$runs"
else
  echo "Kubernetes pv-provision-200: not run (missing:$missing; build the reference with hack/bench/k8sref/build.sh)"
fi
echo
# Authorization decisions (Node,RBAC) in process: no binaries needed.
go run ./hack/bench/authz -runs "$runs"
echo
# Pod startup on a real node needs root (containerd, CNI).
go run ./hack/bench/kubelet -apiserver bin/keel-apiserver -kubelet bin/keel-kubelet -runs "$runs"
echo
# Rule syncs against the kernel need root (they run in a network namespace).
go run ./hack/bench/proxy -runs "$runs"
