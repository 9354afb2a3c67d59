#!/usr/bin/env bash
# Starts a multi-node Keel cluster on this machine, each worker "machine" a
# network namespace: the control plane (apiserver with embedded etcd,
# scheduler, controller-manager) runs on the host and serves TLS on the
# address of a host bridge; every node is a namespace joined to that bridge
# by a veth, with its own address, and runs in it its own containerd (test
# images loaded), a kubelet (its own podCIDR, CNI bridge and config, host-gw
# routes to the other nodes' podCIDRs) and a proxy (the namespace's own
# iptables rules and cluster DNS address); the local-path provisioner
# keeps each node's volumes under a root of its own, $dir/NODE/storage.
# Needs root. Logs and state under
# _output/multinode (KEEL_MULTINODE_DIR); stop and remove it all with
# hack/multinode.sh --down. Re-running restarts the daemons and keeps the
# rest.
#
# Variables [defaults]: KEEL_NODES [2]; KEEL_MULTINODE_PREFIX [kmn] names
# things: namespaces and nodes PREFIX-node1…, host bridge PREFIX-br, veths
# PREFIX-vethN, pods' bridges PREFIX-cniN, cgroup /keel-PREFIX;
# KEEL_NODE_SUBNET [10.89.0.0/24]: the bridge gets .1, node N .(N+1);
# KEEL_POD_CIDR_BASE [10.244.111.0/24]: node N gets the N-th /24 from it;
# KEEL_DNS_ADDRESS [10.96.0.10], each node's cluster DNS. Host ports, as in
# hack/local-up.sh: KEEL_API_PORT [6443] (TLS, on the bridge address),
# KEEL_API_HTTP_PORT [6444], KEEL_SCHEDULER_HTTP_PORT [10251],
# KEEL_CONTROLLER_MANAGER_HTTP_PORT [10252]. Inside the namespaces the
# kubelet and proxy keep their default ports.
#
# The node daemons are started with nsenter --net (see hack/lib/daemons.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=${KEEL_MULTINODE_DIR:-$root/_output/multinode}
nodes=${KEEL_NODES:-2}
prefix=${KEEL_MULTINODE_PREFIX:-kmn}
subnet=${KEEL_NODE_SUBNET:-10.89.0.0/24}
pod_cidr_base=${KEEL_POD_CIDR_BASE:-10.244.111.0/24}
dns_address=${KEEL_DNS_ADDRESS:-10.96.0.10}

die() { echo "multinode: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, containerd, iptables)"
[[ $nodes =~ ^[1-9][0-9]?$ ]] || die "KEEL_NODES=$nodes: want 1 to 99"
[[ $prefix =~ ^[a-z][a-z0-9]{0,5}$ ]] || die "KEEL_MULTINODE_PREFIX=$prefix: want 1 to 6 of a-z0-9, a letter first"
[[ $subnet =~ ^([0-9]+\.[0-9]+\.[0-9]+)\.0/24$ ]] || die "KEEL_NODE_SUBNET=$subnet: want A.B.C.0/24"
net=${BASH_REMATCH[1]}
[[ $pod_cidr_base =~ ^([0-9]+\.[0-9]+)\.([0-9]+)\.0/24$ ]] || die "KEEL_POD_CIDR_BASE=$pod_cidr_base: want A.B.C.0/24"
pod_net=${BASH_REMATCH[1]} pod_third=${BASH_REMATCH[2]}
[ $((pod_third + nodes - 1)) -le 255 ] || die "KEEL_POD_CIDR_BASE=$pod_cidr_base has no room for $nodes nodes"
host_ip=$net.1
bridge=$prefix-br
node_name() { echo "$prefix-node$1"; }
node_ip() { echo "$net.$(($1 + 1))"; }
node_pod_cidr() { echo "$pod_net.$((pod_third + $1 - 1)).0/24"; }
cgroup_root=/keel-$prefix

mkdir -p "$dir/logs" "$dir/run"
dir=$(cd "$dir" && pwd)
# shellcheck source=hack/lib/daemons.sh
. hack/lib/daemons.sh

# in_ns NS CMD...: CMD in the network namespace NS (only that namespace).
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }

# The namespaces and links made so far, recorded (before each is made) so
# that --down removes exactly them whatever the variables say then.
record() { grep -qxF "$1" "$dir/run/network" 2>/dev/null || echo "$1" >>"$dir/run/network"; }

down() {
  stop_daemons
  local kind name pids
  for d in "$dir"/*/containerd; do
    [ -d "$d" ] || continue
    hack/containerd.sh stop "$d" || echo "multinode: could not stop the containerd of $d" >&2
  done
  unmount_volumes
  [ -f "$dir/run/network" ] || return 0
  while read -r kind name; do
    case "$kind" in
      netns)
        [ -e "/run/netns/$name" ] || continue
        # Anything still in the namespace was started in it by this script.
        pids=$(ip netns pids "$name" 2>/dev/null || true)
        if [ -n "$pids" ]; then
          echo "multinode: killing what is left in $name: $pids" >&2
          kill -9 $pids 2>/dev/null || true
        fi
        ip netns del "$name" && echo "deleted namespace $name" || true ;;
      link)
        # (a veth may vanish with its namespace meanwhile)
        if ip link show "$name" >/dev/null 2>&1; then ip link del "$name" 2>/dev/null && echo "deleted link $name" || true; fi ;;
      cgroup)
        for c in /sys/fs/cgroup/*"$name"; do
          [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
        done ;;
    esac
  done <"$dir/run/network"
  rm -f "$dir/run/network"
}

if [ "${1:-}" = "--down" ]; then
  down
  exit 0
fi

hack/install-deps.sh >/dev/null
make build
stop_daemons

# PKI: the apiserver's certificate must name the bridge address, the
# kubelets' serving certificates theirs; an apiserver certificate without
# it is re-issued. The kubelets' client certificates are not made here:
# each kubelet joins with a bootstrap token and requests its own (below).
if [ -f "$dir/pki/apiserver.crt" ] && ! openssl x509 -in "$dir/pki/apiserver.crt" -noout -ext subjectAltName | grep -q "IP Address:$host_ip\b"; then
  rm -f "$dir/pki/apiserver.crt" "$dir/pki/apiserver.key"
fi
pki_args=(--dir "$dir/pki" --apiserver-san "$host_ip")
for i in $(seq "$nodes"); do pki_args+=(--node "$(node_name "$i")=$(node_ip "$i")"); done
bin/keelctl pki init "${pki_args[@]}" >/dev/null
for i in $(seq "$nodes"); do rm -f "$dir/pki/kubelet-$(node_name "$i")-client.crt" "$dir/pki/kubelet-$(node_name "$i")-client.key"; done

# The network: a host bridge, and per node a namespace with a veth into it.
record "link $bridge"
ip link show "$bridge" >/dev/null 2>&1 || ip link add "$bridge" type bridge
ip addr replace "$host_ip/24" dev "$bridge"
ip link set "$bridge" up
for i in $(seq "$nodes"); do
  ns=$(node_name "$i") veth=$prefix-veth$i
  record "netns $ns"
  record "link $veth"
  [ -e "/run/netns/$ns" ] || ip netns add "$ns"
  if ! ip link show "$veth" >/dev/null 2>&1; then
    ip link add "$veth" type veth peer name eth0 netns "$ns"
  fi
  ip link set "$veth" master "$bridge" up
  in_ns "$ns" ip link set lo up
  in_ns "$ns" ip addr replace "$(node_ip "$i")/24" dev eth0
  in_ns "$ns" ip link set eth0 up
  in_ns "$ns" sysctl -qw net.ipv4.ip_forward=1
done
record "cgroup $cgroup_root"

# Each node keeps its local-path volumes under a root of its own, as
# separate machines would (they share this machine's filesystem).
local_path_node_roots=
for i in $(seq "$nodes"); do
  local_path_node_roots+=${local_path_node_roots:+,}$(node_name "$i")=$dir/$(node_name "$i")/storage
done
start_control_plane "$host_ip"
client_conf admin "$host_ip:$api_port" "$dir/config" default
client_conf proxy "$host_ip:$api_port"

# The nodes join with a bootstrap token: `keelctl token create
# --print-join-command` prints the token and the hash of the cluster CA; a
# kubelet without a client certificate in its --cert-dir finds the CA in
# the apiserver's handshake by that hash, requests a certificate as
# system:bootstrap:ID (approved and signed by the controller-manager), and
# rotates it as itself later. What is still handed to the nodes from
# $dir/pki: the CA certificate (public) and each kubelet's serving
# certificate and key (for the apiserver's logs/exec; the kubelet does not
# request it), and the proxy's client certificate (proxy.conf).
join=$(KEELCONFIG=$dir/config bin/keelctl token create --ttl 1h --description multinode --print-join-command)
[[ $join =~ --token\ ([a-z0-9.]+)\ --ca-cert-hash\ (sha256:[0-9a-f]+) ]] || die "unexpected join command: $join"
token=${BASH_REMATCH[1]} ca_hash=${BASH_REMATCH[2]}

# The nodes. containerd starts one at a time: each start rebuilds the
# test images into the same files.
for i in $(seq "$nodes"); do
  node=$(node_name "$i") nd=$dir/$(node_name "$i")
  mkdir -p "$nd"
  if ! hack/containerd.sh status "$nd/containerd" >/dev/null 2>&1; then
    in_ns "$node" hack/containerd.sh start "$nd/containerd" --cni-conf-dir "$nd/cni" >/dev/null
    echo "started containerd in $node (log $nd/containerd/testenv.log)"
  fi
  start "kubelet-$node" "$node" bin/keel-kubelet --server "$host_ip:$api_port" --pki-dir "$dir/pki" \
    --token "$token" --ca-cert-hash "$ca_hash" --cert-dir "$nd/kubelet-pki" \
    --node-name "$node" --node-ip "$(node_ip "$i")" --pod-cidr "$(node_pod_cidr "$i")" \
    --container-runtime-endpoint "unix://$nd/containerd/containerd.sock" \
    --cni-conf-dir "$nd/cni" --cni-bridge "$prefix-cni$i" --cni-ipam-data-dir "$nd/ipam" \
    --root-dir "$nd/kubelet" --pod-log-dir "$nd/pod-logs" --cgroup-root "$cgroup_root" \
    --healthz-address 127.0.0.1:10248 --cluster-dns "$dns_address"
  start "proxy-$node" "$node" bin/keel-proxy --kubeconfig "$dir/proxy.conf" --hostname-override "$node" \
    --http-address 127.0.0.1:10249 --dns-address "$dns_address"
done
for i in $(seq "$nodes"); do
  node=$(node_name "$i")
  wait_ready "kubelet-$node" http://127.0.0.1:10248/readyz "$node"
  wait_ready "proxy-$node" http://127.0.0.1:10249/readyz "$node"
done

echo "apiserver: TLS on $host_ip:$api_port (bridge $bridge), certificates in $dir/pki"
for i in $(seq "$nodes"); do
  echo "node $(node_name "$i"): namespace $(node_name "$i"), InternalIP $(node_ip "$i"), podCIDR $(node_pod_cidr "$i"), cluster DNS $dns_address, local-path volumes under $dir/$(node_name "$i")/storage"
done
echo "logs: $dir/logs/*.log, containerd: $dir/<node>/containerd/testenv.log"
echo "keelctl: export KEELCONFIG=$dir/config; bin/keelctl get nodes -o wide"
echo "a shell on a node: nsenter --net=/run/netns/$(node_name 1) sh"
