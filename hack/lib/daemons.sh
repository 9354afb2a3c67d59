# Sourced by hack/local-up.sh and hack/multinode.sh: running Keel's daemons
# in the background from a state directory. The caller sets $dir (pidfiles
# under $dir/run, logs under $dir/logs, certificates under $dir/pki) and runs
# from the repository root.

# The control plane's host ports.
api_port=${KEEL_API_PORT:-6443}
api_http_port=${KEEL_API_HTTP_PORT:-6444}
scheduler_http_port=${KEEL_SCHEDULER_HTTP_PORT:-10251}
cm_http_port=${KEEL_CONTROLLER_MANAGER_HTTP_PORT:-10252}

# start NAME NETNS CMD...: run CMD in the background (in the network
# namespace NETNS, or the host's when NETNS is "") under
# hack/lib/supervise.sh, which restarts it whenever it exits; its output
# and the supervisor's restart lines in $dir/logs/NAME.log. The supervisor
# runs in a session (and process group) of its own, whose id
# $dir/run/NAME.pid holds: stop_daemons signals the whole group. nsenter
# --net switches only the network namespace (ip netns exec would also
# remount /sys and hide the cgroup mounts runc and the kubelet need).
start() {
  local name=$1 ns=$2
  shift 2
  if [ -n "$ns" ]; then set -- nsenter --net="/run/netns/$ns" "$@"; fi
  setsid hack/lib/supervise.sh "$name" "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/run/$name.pid"
  echo "started $name${ns:+ in $ns}, supervised (pid $!, log $dir/logs/$name.log)"
}

# wait_ready NAME URL [NETNS]: poll URL (from NETNS) until it answers, the
# daemon NAME exits (its supervisor logged a restart), or 60s pass; exit
# with the end of its log otherwise.
wait_ready() {
  local run=()
  [ -n "${3:-}" ] && run=(nsenter --net="/run/netns/$3")
  for _ in $(seq 300); do
    if "${run[@]}" curl -fsS --max-time 2 "$2" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$(cat "$dir/run/$1.pid")" 2>/dev/null || grep -q "^supervise: $1 exited" "$dir/logs/$1.log"; then
      echo "$1 exited; the end of $dir/logs/$1.log:" >&2
      tail -20 "$dir/logs/$1.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "$1 not ready after 60s; the end of $dir/logs/$1.log:" >&2
  tail -20 "$dir/logs/$1.log" >&2
  exit 1
}

# stop_daemons: SIGTERM the process group of every daemon with a pidfile
# (its supervisor and the daemon: the supervisor then stops, without a
# restart), wait up to 30s for them to exit, then SIGKILL the stragglers'
# groups.
stop_daemons() {
  local pids=() pidfile pid alive
  for pidfile in "$dir"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill "$pid"
      echo "stopped $(basename "$pidfile" .pid) (pid $pid)"
      pids+=("$pid")
    fi
    rm -f "$pidfile"
  done
  for _ in $(seq 300); do
    alive=()
    for pid in "${pids[@]}"; do
      if group_alive "$pid"; then alive+=("$pid"); fi
    done
    [ ${#alive[@]} -eq 0 ] && return 0
    sleep 0.1
  done
  echo "SIGKILL to the groups of ${alive[*]}, still running after 30s" >&2
  for pid in "${alive[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
}

# group_alive PGID: a process of the group is running (not a zombie).
group_alive() {
  local stat line state pgrp
  for stat in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$stat" || continue
    # "pid (comm) state ppid pgrp ...", comm may hold spaces and parentheses.
    read -r state _ pgrp _ <<<"${line##*) }"
    if [ "$pgrp" = "$1" ] && [ "$state" != Z ]; then return 0; fi
  done
  return 1
}

# unmount_volumes: unmount what kubelets mounted under $dir (the tmpfs of
# the pods' Secret, ConfigMap and token volumes), innermost first, once the
# containers are gone; as root only (a non-root kubelet mounts nothing).
unmount_volumes() {
  [ "$(id -u)" = 0 ] || return 0
  findmnt -rn -o TARGET | { grep -F -- "$dir/" || true; } | sort -r | while read -r mnt; do
    umount "$mnt" && echo "unmounted $mnt"
  done
}

# client_conf USER SERVER [CONF] [NAMESPACE]: a client configuration at CONF
# (default $dir/USER.conf) for the apiserver at SERVER, TLS with USER's
# certificate from $dir/pki, with NAMESPACE as the default namespace if
# given.
client_conf() {
  local conf=${3:-$dir/$1.conf}
  KEELCONFIG=$conf bin/keelctl config set-cluster keel --server "$2" --certificate-authority "$dir/pki/ca.crt" --embed-certs >/dev/null
  KEELCONFIG=$conf bin/keelctl config set-credentials "$1" --client-certificate "$dir/pki/$1.crt" --client-key "$dir/pki/$1.key" --embed-certs >/dev/null
  KEELCONFIG=$conf bin/keelctl config set-context keel --cluster keel --user "$1" ${4:+--namespace "$4"} >/dev/null
  KEELCONFIG=$conf bin/keelctl config use-context keel >/dev/null
}

# start_control_plane HOST: the apiserver with its embedded etcd (TLS on
# HOST:$api_port, health on loopback, etcd's client socket in its data
# directory; authorization
# by its default modes, RBAC with the bootstrap roles; bootstrap tokens
# authenticate joining kubelets), then the scheduler and the
# controller-manager (which approves and signs the kubelets' certificate
# requests with the cluster CA, and provisions local-path volumes under
# $dir/storage, or on the nodes of $local_path_node_roots (NODE=DIR,…, if
# set) under their own DIR, and drives the CSI controller services of
# KEEL_CSI_CONTROLLER_ENDPOINTS, DRIVER=unix:///SOCKET,…, if set), each with
# its own certificate (and so its own role);
# waits until each is ready.
start_control_plane() {
  local host=$1
  start apiserver "" bin/keel-apiserver \
    --data-dir "$dir/etcd" \
    --secure-address "$host:$api_port" \
    --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
    --client-ca-file "$dir/pki/ca.crt" \
    --service-account-key-file "$dir/pki/sa.pub" --service-account-signing-key-file "$dir/pki/sa.key" \
    --kubelet-client-certificate "$dir/pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$dir/pki/apiserver-kubelet-client.key" \
    --enable-bootstrap-token-auth \
    --http-address "127.0.0.1:$api_http_port"
  wait_ready apiserver "http://127.0.0.1:$api_http_port/readyz"
  client_conf scheduler "$host:$api_port"
  start scheduler "" bin/keel-scheduler --kubeconfig "$dir/scheduler.conf" --http-address "127.0.0.1:$scheduler_http_port"
  client_conf controller-manager "$host:$api_port"
  start controller-manager "" bin/keel-controller-manager --kubeconfig "$dir/controller-manager.conf" --http-address "127.0.0.1:$cm_http_port" --root-ca-file "$dir/pki/ca.crt" \
    --cluster-signing-cert-file "$dir/pki/ca.crt" --cluster-signing-key-file "$dir/pki/ca.key" \
    --use-service-account-credentials --local-path-root "$dir/storage" \
    ${local_path_node_roots:+--local-path-node-roots "$local_path_node_roots"} \
    ${KEEL_CSI_CONTROLLER_ENDPOINTS:+--csi-controller-endpoints "$KEEL_CSI_CONTROLLER_ENDPOINTS"}
  wait_ready scheduler "http://127.0.0.1:$scheduler_http_port/readyz"
  wait_ready controller-manager "http://127.0.0.1:$cm_http_port/readyz"
}
