#!/usr/bin/env bash
# `make fuzz`: runs every native Go fuzz target in the repository (each
# `func FuzzXxx(f *testing.F)` in a *_test.go file, found afresh on every
# run) for FUZZTIME each (default 30s), one after another. A target that
# fails leaves its input under the package's testdata/fuzz/FuzzXxx/; commit
# it with the fix, and it runs with `go test` from then on. Exits non-zero
# if any target failed, after running them all.
#
#   FUZZTIME=5m make fuzz          longer runs
#   hack/fuzz.sh pkg/manifest      only the targets under these directories
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}
roots=("${@:-.}")
failed=()
while IFS=: read -r file name; do
	dir=$(dirname "$file")
	echo "== $name ./$dir ($fuzztime)"
	if ! go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "./$dir" </dev/null; then
		failed+=("$name ./$dir")
	fi
done < <(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' "${roots[@]}" \
	| sed -E 's/^\.\///; s/:func (Fuzz[A-Za-z0-9_]*).*/:\1/' | sort)
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: failed:"
	printf '  %s\n' "${failed[@]}"
	exit 1
fi
