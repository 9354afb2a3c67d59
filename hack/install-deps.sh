#!/usr/bin/env bash
# Installs the system packages Keel builds, runs and tests with, on Debian 12.
# Idempotent: packages already present are left alone, and apt is only asked
# when something is missing. Must run as root.
set -euo pipefail

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
