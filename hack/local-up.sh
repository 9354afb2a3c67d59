#!/usr/bin/env bash
# Starts a single-machine Keel cluster from this checkout: installs the
# system packages, builds the binaries, creates the PKI, and runs every daemon
# that exists so far in the background, with logs and state under
# _output/local (override with KEEL_LOCAL_DIR). Stop it with
# hack/local-up.sh --down.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=${KEEL_LOCAL_DIR:-$root/_output/local}
mkdir -p "$dir/logs" "$dir/run"

stop_all() {
  for pidfile in "$dir"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" && echo "stopped $(basename "$pidfile" .pid) (pid $pid)"
    fi
    rm -f "$pidfile"
  done
}

if [ "${1:-}" = "--down" ]; then
  stop_all
  exit 0
fi

if [ "$(id -u)" = 0 ]; then
  hack/install-deps.sh
fi
make build
stop_all

bin/keelctl pki init --dir "$dir/pki" >/dev/null

start() { # name, then the command
  local name=$1; shift
  "$@" >"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/run/$name.pid"
  echo "started $name (pid $!, log $dir/logs/$name.log)"
}

start apiserver bin/keel-apiserver \
  --data-dir "$dir/etcd" \
  --secure-address 127.0.0.1:6443 \
  --insecure-address 127.0.0.1:6080 \
  --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
  --client-ca-file "$dir/pki/ca.crt" \
  --http-address 127.0.0.1:6444

# keelctl's config for this cluster: TLS with the admin certificate.
export KEELCONFIG=$dir/config
bin/keelctl config set-cluster local --server 127.0.0.1:6443 --certificate-authority "$dir/pki/ca.crt" --embed-certs >/dev/null
bin/keelctl config set-credentials admin --client-certificate "$dir/pki/admin.crt" --client-key "$dir/pki/admin.key" --embed-certs >/dev/null
bin/keelctl config set-context local --cluster local --user admin --namespace default >/dev/null
bin/keelctl config use-context local >/dev/null
if [ ! -e "$HOME/.keel/config" ]; then
  mkdir -p "$HOME/.keel" && cp "$dir/config" "$HOME/.keel/config"
fi

for _ in $(seq 1 100); do
  if curl -fsS http://127.0.0.1:6444/readyz >/dev/null 2>&1; then
    echo "apiserver ready: TLS on 127.0.0.1:6443 (certificates in $dir/pki), plain text on 127.0.0.1:6080 (loopback only)"
    echo "health and metrics: http://127.0.0.1:6444/{healthz,readyz,metrics}"
    echo "keelctl config: $dir/config (also ~/.keel/config unless you had one): try bin/keelctl get namespaces"
    exit 0
  fi
  if ! kill -0 "$(cat "$dir/run/apiserver.pid")" 2>/dev/null; then
    echo "apiserver exited; its log:" >&2
    tail -20 "$dir/logs/apiserver.log" >&2
    exit 1
  fi
  sleep 0.2
done
echo "apiserver not ready after 20s; see $dir/logs/apiserver.log" >&2
exit 1
