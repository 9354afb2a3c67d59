#!/usr/bin/env bash
# build.sh builds the reference Kubernetes control plane used by
# hack/bench/k8sref/run.sh from the Go module proxy, outside this repository:
# kube-apiserver, kube-controller-manager and kube-scheduler of
# k8s.io/kubernetes v1.31.0, and kwok v0.8.0 (sigs.k8s.io/kwok/cmd/kwok).
#
# k8s.io/kubernetes replaces its k8s.io/* staging modules with ./staging
# directories, so `go install k8s.io/kubernetes/cmd/...@v1.31.0` is refused.
# This script makes a throwaway module that requires k8s.io/kubernetes
# v1.31.0 and replaces every staging module with its published v0.31.0
# version (the same source, tagged with the release), then builds the three
# commands from it. kwok is an ordinary module and builds likewise.
#
# Usage: hack/bench/k8sref/build.sh [OUT]   (default OUT=/opt/k8sref)
# Results: OUT/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kwok}
# and OUT/kwok-stages.yaml (kwok's default stages, for kwok --config).
# etcd is not built: run.sh uses Debian's /usr/bin/etcd.
set -euo pipefail

OUT=${1:-/opt/k8sref}
K8S=v1.31.0
STAGING=v0.31.0
KWOK=v0.8.0
PROXY=${GOPROXY_URL:-https://proxy.golang.org}
mkdir -p "$OUT/bin" "$OUT/build/k8s" "$OUT/build/kwok"

# Kubernetes: the staging modules named by the release's go.mod.
cd "$OUT/build/k8s"
curl -fsS "$PROXY/k8s.io/kubernetes/@v/$K8S.mod" -o kubernetes.mod
staging=$(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' kubernetes.mod)
{
	echo "module k8sref"
	echo
	echo "go 1.22.0"
	echo
	echo "require k8s.io/kubernetes $K8S"
	echo
	echo "replace ("
	for m in $staging; do echo "	$m => $m $STAGING"; done
	echo ")"
} > go.mod
cat > tools.go <<'GO'
//go:build tools

// Package k8sref only names the commands to build, for go mod tidy.
package k8sref

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
go mod tidy
# The version the binaries report (kubectl and kwok read it from /version).
vpkgs="k8s.io/component-base/version k8s.io/client-go/pkg/version"
ld="-s -w"
for p in $vpkgs; do
	ld="$ld -X $p.gitVersion=$K8S -X $p.gitMajor=1 -X $p.gitMinor=31 -X $p.gitTreeState=clean"
done
for c in kube-apiserver kube-controller-manager kube-scheduler; do
	echo "building $c" >&2
	go build -trimpath -ldflags="$ld" -o "$OUT/bin/$c" "k8s.io/kubernetes/cmd/$c"
done

# kwok.
cd "$OUT/build/kwok"
cat > go.mod <<MOD
module kwokref

go 1.26.0

require sigs.k8s.io/kwok $KWOK
MOD
cat > tools.go <<'GO'
//go:build tools

// Package kwokref only names the command to build, for go mod tidy.
package kwokref

import _ "sigs.k8s.io/kwok/cmd/kwok"
GO
go mod tidy
echo "building kwok" >&2
go build -trimpath -ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK" -o "$OUT/bin/kwok" sigs.k8s.io/kwok/cmd/kwok
# kwok's default stages, as kwokctl configures them (kwok alone has none):
# nodes become Ready and renew their leases, pods bound to them become
# Running and Ready, deleted pods go away.
stages=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
	pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
	echo "---"
	cat "$stages/$f"
done > "$OUT/kwok-stages.yaml"
"$OUT/bin/kube-apiserver" --version
"$OUT/bin/kwok" --version || true
