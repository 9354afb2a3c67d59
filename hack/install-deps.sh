#!/usr/bin/env bash
# Installs the system packages Keel builds, runs and tests with, on Debian 12,
# and kubectl and helm (built from hack/tools/kubectl and hack/tools/helm, the
# k8s.io/kubectl and helm.sh/helm/v3 modules at the versions their go.mod
# pin, into /usr/local/bin) when none is on PATH: hack/e2e's TestKubectl*
# and TestHelm drive them. Idempotent: packages already present are left
# alone, and apt is only asked when something is missing. Must run as root.
set -euo pipefail

# install_kubectl builds kubectl with go (from the Go module proxy) unless a
# kubectl is already on PATH; its version reports the pinned module's
# (k8s.io/kubectl v0.X.Y is Kubernetes v1.X.Y).
install_kubectl() {
  if command -v kubectl >/dev/null; then
    return
  fi
  local go tools version
  go=$(command -v go || echo /usr/local/go/bin/go)
  tools="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tools/kubectl"
  version=$(cd "$tools" && "$go" list -m -f '{{.Version}}' k8s.io/kubectl)
  version="v1.${version#v0.}"
  local major=${version#v} minor
  minor=${major#*.}
  minor=${minor%%.*}
  major=${major%%.*}
  local ldflags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "install-deps: building kubectl $version into /usr/local/bin (a few minutes)"
  (cd "$tools" && "$go" build -trimpath -ldflags "$ldflags" -o /usr/local/bin/kubectl .)
}

# install_helm builds helm with go (from the Go module proxy) unless a helm
# is already on PATH; `helm version` reports the pinned module's version.
install_helm() {
  if command -v helm >/dev/null; then
    return
  fi
  local go tools version
  go=$(command -v go || echo /usr/local/go/bin/go)
  tools="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tools/helm"
  version=$(cd "$tools" && "$go" list -m -f '{{.Version}}' helm.sh/helm/v3)
  echo "install-deps: building helm $version into /usr/local/bin (a few minutes)"
  (cd "$tools" && "$go" build -trimpath -ldflags "-X helm.sh/helm/v3/internal/version.version=$version" \
    -o /usr/local/bin/helm helm.sh/helm/v3/cmd/helm)
}

packages=(
  protobuf-compiler libprotobuf-dev  # protoc and the well-known .proto files for hack/update-codegen.sh
  containerd runc          # the container runtime behind CRI
  containernetworking-plugins  # bridge, host-local, portmap, loopback in /usr/lib/cni
  iptables iproute2        # the proxy's rules; network namespaces for multi-node tests
  etcd-server etcd-client  # a real multi-member etcd cluster for HA tests
  busybox-static           # the one binary in every test image
  docker-registry skopeo   # a local registry, so tests pull images for real
  systemd                  # systemd-analyze verifies the units in manifests/systemd
  openssl ca-certificates curl
  util-linux               # nsenter and unshare: the multi-node harness and the proxy's namespace test
  procps                   # pgrep: hack/e2e's TestInstallDoc
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  install_kubectl
  install_helm
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# Debian starts services on install; Keel runs its own containerd, etcd and
# registry instances with their own configs, so keep the packaged ones down.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -q --no-install-recommends "${missing[@]}"
install_kubectl
install_helm
