#!/usr/bin/env bash
# Regenerates the Go code for every .proto under proto/ into pkg/apis/, and
# pkg/apis/apidocs/descriptors.binpb: the descriptors with their source info
# (the doc comments, which the Go descriptors do not carry) for explain.
# Reproducible: protoc is Debian 12's (3.21.12), the Go plugins are the
# versions pinned in go.mod (tool directives), built into a temporary dir.
#
#   hack/update-codegen.sh            rewrite the generated files in place
#   hack/update-codegen.sh --verify   fail if the committed files are stale
set -euo pipefail
cd "$(dirname "$0")/.."

want_protoc="libprotoc 3.21.12"
if [ "$(protoc --version 2>/dev/null)" != "$want_protoc" ]; then
  echo "update-codegen: need $want_protoc (Debian 12 protobuf-compiler; run hack/install-deps.sh), have: $(protoc --version 2>&1 || true)" >&2
  exit 1
fi

tools=$(mktemp -d)
out=$(mktemp -d)
trap 'rm -rf "$tools" "$out"' EXIT
go build -o "$tools/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
go build -o "$tools/protoc-gen-go-grpc" google.golang.org/grpc/cmd/protoc-gen-go-grpc

module=$(go list -m)
docs=pkg/apis/apidocs/descriptors.binpb
mkdir -p "$out/$(dirname "$docs")"
mapfile -t protos < <(cd proto && find keel -name '*.proto' | LC_ALL=C sort)
protoc -I proto -I /usr/include \
  --plugin=protoc-gen-go="$tools/protoc-gen-go" \
  --plugin=protoc-gen-go-grpc="$tools/protoc-gen-go-grpc" \
  --go_out="$out" --go_opt=module="$module" \
  --go-grpc_out="$out" --go-grpc_opt=module="$module" \
  --include_source_info --descriptor_set_out="$out/$docs" \
  "${protos[@]}"

if [ "${1:-}" = "--verify" ]; then
  stale=0
  while IFS= read -r f; do
    if ! cmp -s "$out/$f" "$f"; then echo "stale or missing: $f" >&2; stale=1; fi
  done < <(cd "$out" && find . -name '*.go' -o -name '*.binpb' | sed 's|^\./||')
  while IFS= read -r f; do
    [ -f "$out/$f" ] || { echo "generated file has no .proto: $f" >&2; stale=1; }
  done < <(find pkg/apis -name '*.pb.go' 2>/dev/null)
  if [ $stale -ne 0 ]; then
    echo "update-codegen: generated code is stale; run hack/update-codegen.sh" >&2
    exit 1
  fi
  echo "update-codegen: generated code is up to date"
  exit 0
fi

find pkg/apis -name '*.pb.go' -delete 2>/dev/null || true
cp -r "$out"/. .
echo "update-codegen: generated $(cd "$out" && find . -name '*.go' -o -name '*.binpb' | wc -l) files"
