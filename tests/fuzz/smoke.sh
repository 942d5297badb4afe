#!/usr/bin/env bash
#
# smoke.sh: a short, bounded run of every libFuzzer target (docs/fuzzing.md).
#
#	tests/fuzz/smoke.sh BUILD_DIR [SECONDS]
#
# Runs BUILD_DIR/bin/fuzz_* one after the other for SECONDS each (default
# 20), from a copy of its seed corpus in a temporary directory, so the tree
# is never written. Prints one line per target with the executions done.
# Exits 1 if any target crashed, leaked, timed out or ran out of memory
# (its log tail is printed and the input kept under
# BUILD_DIR/fuzz-artifacts/), 2 on a usage error.
set -u -o pipefail

usage() {
	echo "usage: $0 BUILD_DIR [SECONDS]" >&2
	exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	usage
fi
build=$1
secs=${2:-20}
case $secs in
'' | *[!0-9]*) usage ;;
esac
[ "$secs" -ge 1 ] || usage

here=$(cd "$(dirname "$0")" && pwd)
shopt -s nullglob
bins=("$build"/bin/fuzz_*)
if [ ${#bins[@]} -eq 0 ]; then
	echo "smoke.sh: no fuzz_* in $build/bin (configure with" \
	    "CC=clang cmake -DVSM_FUZZ=ON)" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vsm-fuzz-smoke.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

failed=0
for bin in "${bins[@]}"; do
	name=$(basename "$bin")
	work=$tmp/$name
	mkdir -p "$work/corpus" "$work/artifacts"
	if [ -d "$here/corpus/$name" ]; then
		cp "$here/corpus/$name"/* "$work/corpus/" 2>/dev/null
	fi
	start=$SECONDS
	# -timeout bounds one input; the outer timeout is for a wedged run.
	timeout -k 10 $((secs + 60)) "$bin" \
	    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
	    -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
	    "$work/corpus" >"$work/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
	if [ $rc -eq 0 ]; then
		status=ok
	else
		status="FAIL (exit $rc)"
		failed=1
	fi
	printf '%-20s %8s execs in %3d s  %s\n' "$name" "${execs:-?}" \
	    $((SECONDS - start)) "$status"
	if [ $rc -ne 0 ]; then
		echo "---- $name: last lines of its log ----"
		tail -n 60 "$work/log"
		arts=("$work"/artifacts/*)
		if [ ${#arts[@]} -gt 0 ]; then
			mkdir -p "$build/fuzz-artifacts"
			cp "${arts[@]}" "$build/fuzz-artifacts/"
			for a in "${arts[@]}"; do
				echo "input kept: $build/fuzz-artifacts/$(basename "$a")"
			done
		fi
		echo "---- reproduce: $bin <input> ----"
	fi
done
exit $failed
