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
# namespace NETNS, or the host's when NETNS is ""), its output in
# $dir/logs/NAME.log, its pid in $dir/run/NAME.pid. nsenter --net switches
# only the network namespace (ip netns exec would also remount /sys and hide
# the cgroup mounts runc and the kubelet need).
start() {
  local name=$1 ns=$2
  shift 2
  if [ -n "$ns" ]; then set -- nsenter --net="/run/netns/$ns" "$@"; fi
  "$@" >"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/run/$name.pid"
  echo "started $name${ns:+ in $ns} (pid $!, log $dir/logs/$name.log)"
}

# wait_ready NAME URL [NETNS]: poll URL (from NETNS) until it answers, the
# daemon NAME dies, or 60s pass; exit with the end of its log otherwise.
wait_ready() {
  local run=()
  [ -n "${3:-}" ] && run=(nsenter --net="/run/netns/$3")
  for _ in $(seq 300); do
    if "${run[@]}" curl -fsS --max-time 2 "$2" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$(cat "$dir/run/$1.pid")" 2>/dev/null; then
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

# stop_daemons: SIGTERM every daemon with a pidfile, wait up to 30s for
# them to exit, then SIGKILL the stragglers.
stop_daemons() {
  local pids=() pidfile pid alive
  for pidfile in "$dir"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" && echo "stopped $(basename "$pidfile" .pid) (pid $pid)"
      pids+=("$pid")
    fi
    rm -f "$pidfile"
  done
  for _ in $(seq 300); do
    alive=()
    for pid in "${pids[@]}"; do
      if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then alive+=("$pid"); fi
    done
    [ ${#alive[@]} -eq 0 ] && return 0
    sleep 0.1
  done
  echo "SIGKILL to ${alive[*]}, still running after 30s" >&2
  kill -9 "${alive[@]}" 2>/dev/null || true
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
# requests with the cluster CA), each with its own certificate (and so its
# own role); waits until each is ready.
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
    --use-service-account-credentials
  wait_ready scheduler "http://127.0.0.1:$scheduler_http_port/readyz"
  wait_ready controller-manager "http://127.0.0.1:$cm_http_port/readyz"
}
