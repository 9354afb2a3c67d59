#!/usr/bin/env bash
# Builds Keel's test images into docker-archive tarballs and, optionally,
# pushes them to a local registry. No public registry is needed: busybox
# comes from Debian's busybox-static, pause from cmd/pause (see
# pkg/testimages for what is in them).
#
#   hack/images.sh                        # _output/images/{busybox,pause}.tar
#   hack/images.sh --out DIR              # elsewhere
#   hack/images.sh --push 127.0.0.1:5000  # and push to a running registry
#   hack/images.sh --start-registry 127.0.0.1:5000
#                                         # start Debian's docker-registry there
#                                         # (state in _output/registry), push
#   hack/images.sh --stop-registry        # stop that registry
#
# Images: registry.keel.test/busybox:1.35 and registry.keel.test/pause:3.9;
# pushed, they are HOST:PORT/busybox:1.35 and HOST:PORT/pause:3.9. The same
# inputs always give the same digests (printed).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$root/_output/images
push=""
start_registry=""
regdir=$root/_output/registry

while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --push) push=$2; shift 2 ;;
    --start-registry) start_registry=$2; shift 2 ;;
    --stop-registry)
      if [ -f "$regdir/testenv.pid" ]; then
        pid=$(cat "$regdir/testenv.pid")
        if kill -0 "$pid" 2>/dev/null; then
          kill "$pid"
          # Wait (bounded) for it to stop the registry and exit.
          for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
          echo "images: stopped the registry (pid $pid)"
        fi
        rm -f "$regdir/testenv.pid"
      fi
      exit 0 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "images: unknown argument $1" >&2; exit 2 ;;
  esac
done

mkdir -p "$root/_output/bin"
go build -o "$root/_output/bin/keel-testenv" ./hack/testenv
testenv=$root/_output/bin/keel-testenv

if [ -n "$start_registry" ]; then
  mkdir -p "$regdir"
  if [ -f "$regdir/testenv.pid" ] && kill -0 "$(cat "$regdir/testenv.pid")" 2>/dev/null; then
    echo "images: a registry is already running (pid $(cat "$regdir/testenv.pid")); --stop-registry first" >&2
    exit 1
  fi
  "$testenv" registry --dir "$regdir" --addr "$start_registry" >"$regdir/testenv.log" 2>&1 &
  echo $! >"$regdir/testenv.pid"
  for _ in $(seq 300); do
    grep -q '^ready' "$regdir/testenv.log" 2>/dev/null && break
    kill -0 "$(cat "$regdir/testenv.pid")" 2>/dev/null || { cat "$regdir/testenv.log" >&2; exit 1; }
    sleep 0.1
  done
  grep -q '^ready' "$regdir/testenv.log" || { echo "images: registry not ready" >&2; cat "$regdir/testenv.log" >&2; exit 1; }
  echo "images: registry on $start_registry (pid $(cat "$regdir/testenv.pid"), log $regdir/testenv.log)"
  push=$start_registry
fi

args=(images --out "$out")
[ -n "$push" ] && args+=(--push "$push")
"$testenv" "${args[@]}"
