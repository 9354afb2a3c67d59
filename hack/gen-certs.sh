#!/usr/bin/env bash
# Creates (or completes) the certificates of a Keel cluster in DIR with
# `keelctl pki init`: the CA, the apiserver's serving certificate, client
# certificates for admin, scheduler, controller-manager, proxy and the
# apiserver's kubelet client, and kubelet certificates per --node.
# Idempotent: existing files are kept (the CA in particular).
#
#   hack/gen-certs.sh DIR [keelctl pki init flags...]
#   hack/gen-certs.sh _output/pki --apiserver-san 10.0.0.10 --node node1=10.0.0.21
#
# Builds bin/keelctl first, unless $KEELCTL names a keelctl binary to use.
set -euo pipefail

if [ $# -lt 1 ] || [[ $1 == -* ]]; then
  echo "usage: $0 DIR [--apiserver-san NAME_OR_IP ...] [--node NAME[=IP,IP] ...]" >&2
  exit 2
fi
dir=$1
shift

keelctl=${KEELCTL:-}
if [ -z "$keelctl" ]; then
  root=$(cd "$(dirname "$0")/.." && pwd)
  (cd "$root" && mkdir -p bin && go build -o bin/keelctl ./cmd/ctl)
  keelctl=$root/bin/keelctl
fi
exec "$keelctl" pki init --dir "$dir" "$@"
