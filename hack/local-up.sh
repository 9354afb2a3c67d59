#!/usr/bin/env bash
# Starts a single-machine Keel cluster from this checkout: installs the
# system packages, builds the binaries, creates the PKI, and runs in the
# background a private containerd (with the test images loaded), the
# apiserver with its embedded etcd, the scheduler, the controller-manager, a
# kubelet and a proxy (Service rules in iptables, cluster DNS), all on TLS
# with their own certificates, each allowed by RBAC only what it does; logs and state under _output/local (override
# with KEEL_LOCAL_DIR). Each daemon runs under hack/lib/supervise.sh, which
# restarts it whenever it exits. Needs root (containerd, CNI, iptables). Stop
# it with hack/local-up.sh --down.
#
# To run it beside another cluster on this machine, override the addresses
# with these variables (defaults in brackets): KEEL_API_PORT [6443],
# KEEL_API_HTTP_PORT [6444], KEEL_SCHEDULER_HTTP_PORT [10251],
# KEEL_CONTROLLER_MANAGER_HTTP_PORT [10252], KEEL_KUBELET_PORT [10250],
# KEEL_KUBELET_HEALTHZ_PORT [10248], KEEL_POD_CIDR [10.244.0.0/24],
# KEEL_CNI_BRIDGE [keel0], KEEL_PROXY_HTTP_PORT [10249], KEEL_DNS_ADDRESS
# [10.96.0.10], KEEL_DNS_INTERFACE [keel-dns]. The proxy owns the machine's
# KEEL- iptables chains: run one cluster's proxy per machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=${KEEL_LOCAL_DIR:-$root/_output/local}
kubelet_port=${KEEL_KUBELET_PORT:-10250}
kubelet_healthz_port=${KEEL_KUBELET_HEALTHZ_PORT:-10248}
pod_cidr=${KEEL_POD_CIDR:-10.244.0.0/24}
cni_bridge=${KEEL_CNI_BRIDGE:-keel0}
proxy_http_port=${KEEL_PROXY_HTTP_PORT:-10249}
dns_address=${KEEL_DNS_ADDRESS:-10.96.0.10}
dns_interface=${KEEL_DNS_INTERFACE:-keel-dns}
mkdir -p "$dir/logs" "$dir/run"
# shellcheck source=hack/lib/daemons.sh
. hack/lib/daemons.sh

if [ "${1:-}" = "--down" ]; then
  stop_daemons
  hack/containerd.sh stop "$dir/containerd" >/dev/null 2>&1 || true
  unmount_volumes
  if [ "$(id -u)" = 0 ] && [ -x bin/keel-proxy ]; then
    bin/keel-proxy --cleanup --dns-interface "$dns_interface" && echo "removed the proxy's iptables rules and $dns_interface"
  fi
  if [ "$(id -u)" = 0 ]; then
    # The kubelet's masquerade rule for the pod CIDR (the pods are gone).
    iptables -w -t nat -S POSTROUTING | { grep -F -- "-s $pod_cidr " || true; } | { grep -F keel-kubelet-masquerade || true; } |
      sed 's/^-A /-D /' | while read -r rule; do
        # shellcheck disable=SC2086 # the rule's words, as iptables -S printed them
        iptables -w -t nat $rule && echo "removed the kubelet's masquerade rule for $pod_cidr"
      done
  fi
  exit 0
fi

if [ "$(id -u)" = 0 ]; then
  hack/install-deps.sh
fi
make build
stop_daemons

node=$(hostname)
bin/keelctl pki init --dir "$dir/pki" --node "$node" >/dev/null

start_control_plane "127.0.0.1"

# keelctl's config for this cluster: TLS with the admin certificate.
export KEELCONFIG=$dir/config
client_conf admin "127.0.0.1:$api_port" "$KEELCONFIG" default
if [ ! -e "$HOME/.keel/config" ]; then
  mkdir -p "$HOME/.keel" && cp "$dir/config" "$HOME/.keel/config"
fi

if [ "$(id -u)" = 0 ]; then
  hack/containerd.sh start "$dir/containerd" --cni-conf-dir "$dir/cni" >/dev/null
  start kubelet "" bin/keel-kubelet --server "127.0.0.1:$api_port" --pki-dir "$dir/pki" --node-name "$node" \
    --container-runtime-endpoint "unix://$dir/containerd/containerd.sock" --cni-conf-dir "$dir/cni" \
    --pod-cidr "$pod_cidr" --cni-bridge "$cni_bridge" --port "$kubelet_port" \
    --root-dir "$dir/kubelet" --pod-log-dir "$dir/pod-logs" \
    --healthz-address "127.0.0.1:$kubelet_healthz_port" --cluster-dns "$dns_address"
  wait_ready kubelet "http://127.0.0.1:$kubelet_healthz_port/readyz"
  client_conf proxy "127.0.0.1:$api_port"
  start proxy "" bin/keel-proxy --kubeconfig "$dir/proxy.conf" --http-address "127.0.0.1:$proxy_http_port" \
    --dns-address "$dns_address" --dns-interface "$dns_interface"
  wait_ready proxy "http://127.0.0.1:$proxy_http_port/readyz"
else
  echo "not root: no containerd, kubelet or proxy (pods will stay Pending)" >&2
fi

echo "apiserver: TLS on 127.0.0.1:$api_port (certificates in $dir/pki); embedded etcd for etcdctl on unix://$dir/etcd/etcd.sock"
echo "apiserver metrics: https://127.0.0.1:$api_port/metrics (a client certificate of group system:monitoring, or the admin's: curl --cacert $dir/pki/ca.crt --cert $dir/pki/admin.crt --key $dir/pki/admin.key); health: http://127.0.0.1:$api_http_port/readyz"
echo "health and metrics: scheduler :$scheduler_http_port, controller-manager :$cm_http_port, kubelet :$kubelet_healthz_port, proxy :$proxy_http_port"
echo "cluster DNS: $dns_address (answers <service>.<namespace>.svc.cluster.local)"
echo "keelctl config: $dir/config (also ~/.keel/config unless you had one): try bin/keelctl get nodes"
echo "kubectl: the same file is a kubeconfig: KUBECONFIG=$dir/config kubectl get nodes (see docs/kubernetes-api.md)"
echo "test images: registry.keel.test/busybox:1.35, registry.keel.test/pause:3.9 (loaded in containerd)"
