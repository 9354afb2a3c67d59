#!/usr/bin/env bash
# hack/apply-corpus.sh DIR: applies every manifest under DIR (*.yaml, *.yml,
# *.json) with kubectl against the cluster of $KUBECONFIG, each first with
# `kubectl apply --dry-run=server`, then with `kubectl apply`, and prints a
# summary: the files that applied, the files that failed, and the failures
# grouped by their first error line (names of objects and files left out,
# so that one cause is one group).
#
# Each file gets a namespace of its own (corpus-PID-N, the default namespace of
# its kubectl calls; objects that name their own namespace keep it). Files
# that are not API objects for a cluster are skipped and counted: no
# apiVersion and kind, kustomize's, or a component configuration
# (*.config.k8s.io, kubeadm, audit policies, admission configurations).
#
#   KUBECONFIG=_output/local/config hack/apply-corpus.sh /tmp/manifests
#   KUBECTL=/path/to/kubectl VERBOSE=1 hack/apply-corpus.sh DIR  (each error in full)
set -uo pipefail
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
root=$1
kubectl=${KUBECTL:-kubectl}
: "${KUBECONFIG:?set KUBECONFIG to the cluster to apply to}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A copy of the kubeconfig whose current context's namespace changes per file.
cp "$KUBECONFIG" "$work/config"
export KUBECONFIG=$work/config

# skip FILE: why FILE is not a manifest to apply, or nothing.
skip() {
	local f=$1
	case $(basename "$f") in
	kustomization.yaml | kustomization.yml | Chart.yaml | values.yaml) echo "kustomize or Helm file" && return ;;
	esac
	if ! grep -Eq '^[[:space:]]*"?apiVersion"?[[:space:]]*:' "$f" || ! grep -Eq '^[[:space:]]*"?kind"?[[:space:]]*:' "$f"; then
		echo "no apiVersion and kind" && return
	fi
	if grep -Eq '^"?apiVersion"?[[:space:]]*:[[:space:]]*"?[a-z.]*(config\.k8s\.io|kubeadm\.k8s\.io|audit\.k8s\.io|apiserver\.k8s\.io|kustomize\.config\.k8s\.io)/' "$f"; then
		echo "component configuration" && return
	fi
	if grep -Eq '\{\{' "$f"; then
		echo "template" && return
	fi
}

# firsterror OUTPUT: the first line of kubectl's output that reports an
# error (with the first of the causes kubectl lists below it, when the
# line ends with a colon), object and file names removed.
firsterror() {
	awk 'done { next }
		!l && /^(error|Error)|is invalid|Invalid value|forbidden|unknown field|no matches for kind/ { l = $0; if (l !~ /: *$/) { print l; done = 1 }; next }
		l { sub(/^[*] */, ""); print l $0; done = 1 }
		END { if (l && !done) print l }' <<<"$1" |
		sed -E -e 's/for name: "[^"]*" namespace: "[^"]*" from "[^"]*": //' \
			-e 's/ from server for: "[^"]*"//' -e 's/ when creating "[^"]*"//' \
			-e 's/error validating "[^"]*"/error validating FILE/' -e 's/(\w+ )"[^"]+" is invalid/\1NAME is invalid/' \
			-e 's/corpus-[0-9]+-[0-9]+/NAMESPACE/g' | cut -c1-300
}

# reason OUTPUT: firsterror, or the first line of OUTPUT if none matched.
reason() {
	local e
	e=$(firsterror "$1")
	[ -n "$e" ] || e=$(head -n1 <<<"$1" | cut -c1-300)
	printf '%s' "$e"
}

n=0 ok=0 skipped=0
declare -a failed=()
declare -A groups=()
while IFS= read -r -d '' f; do
	rel=${f#"$root"/}
	why=$(skip "$f")
	if [ -n "$why" ]; then
		skipped=$((skipped + 1))
		[ -n "${VERBOSE:-}" ] && echo "skip $rel: $why"
		continue
	fi
	n=$((n + 1))
	ns=corpus-$$-$n
	"$kubectl" create namespace "$ns" >/dev/null 2>&1
	# Pods are admitted once the namespace's default ServiceAccount exists.
	for _ in $(seq 50); do
		"$kubectl" get serviceaccount default -n "$ns" >/dev/null 2>&1 && break
		sleep 0.2
	done
	"$kubectl" config set-context --current --namespace "$ns" >/dev/null
	err=""
	if ! out=$("$kubectl" apply --dry-run=server -f "$f" 2>&1); then
		err="dry-run: $(reason "$out")"
	fi
	if ! out2=$("$kubectl" apply -f "$f" 2>&1); then
		[ -z "$err" ] && err="apply: $(reason "$out2")"
		out="$out"$'\n'"$out2"
	fi
	if [ -z "$err" ]; then
		ok=$((ok + 1))
		continue
	fi
	failed+=("$rel")
	groups[$err]+="    $rel"$'\n'
	[ -n "${VERBOSE:-}" ] && printf 'FAIL %s\n%s\n' "$rel" "$out"
done < <(find "$root" -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) -print0 | sort -z)

echo "files: $n applied or tried, $ok ok, ${#failed[@]} failed, $skipped skipped"
if [ ${#failed[@]} -gt 0 ]; then
	echo "failures by first error line (count, error, files):"
	for e in "${!groups[@]}"; do
		printf '%d\t%s\n' "$(printf '%s' "${groups[$e]}" | grep -c .)" "$e"
	done | sort -t$'\t' -k1,1nr -k2 | while IFS=$'\t' read -r c e; do
		printf '%5d  %s\n%s' "$c" "$e" "${groups[$e]}"
	done
	exit 1
fi
