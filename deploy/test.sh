#!/bin/sh
# Run every test of vsm from nothing: install the Debian packages, build
# with -Werror under AddressSanitizer and UBSan, run ctest (unit and
# integration tests against real sockets and servers on loopback), run the
# README's demo (a controller and three agents, stopped afterwards), a
# short run of the fleet benchmark, then build the libFuzzer targets and
# give each a short, bounded smoke run.
#
#   VSM_TEST_BUILD   build directory for the sanitizer build (build-test)
#   VSM_FUZZ_SECONDS seconds per fuzz target (15; 0 skips the smoke run)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

./deploy/install-deps.sh

build=${VSM_TEST_BUILD:-build-test}
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build ($build: -Werror, ASan+UBSan)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DVSM_WERROR=ON \
	-DVSM_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$jobs" >/dev/null

echo "== ctest"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	ctest --test-dir "$build" --output-on-failure -j"$jobs"

echo "== demo (./deploy/demo.sh: a controller and three agents)"
demo=$(mktemp -d "${TMPDIR:-/tmp}/vsm-demo-test.XXXXXX")
stop_demo() { [ -f "$demo/pids" ] && ./deploy/demo.sh stop "$demo" >/dev/null 2>&1; rm -rf "$demo"; }
trap stop_demo EXIT
VSM_DEMO_DIR=$demo ./deploy/demo.sh >"$demo.log" 2>&1 ||
	{ tail -40 "$demo.log"; for f in "$demo"/*/log; do echo "-- $f"; tail -20 "$f"; done; exit 1; }
grep -E '^ok [0-9]+, ' "$demo.log"
rm -f "$demo.log"

# The benchmark must keep working; its figures are not judged here.
echo "== bench smoke (vsm-bench fleet, 50 virtual agents, sanitizers on)"
"$build/bin/vsm-bench" fleet --agents 50 --rounds 1 --idle 1 >"$demo.bench" 2>&1 ||
	{ tail -30 "$demo.bench"; exit 1; }
grep -E '^fan-out' "$demo.bench"
rm -f "$demo.bench"

secs=${VSM_FUZZ_SECONDS:-15}
if [ "$secs" -gt 0 ]; then
	echo "== fuzz smoke run (${secs}s per target)"
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug \
		-DVSM_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j"$jobs" >/dev/null
	tests/fuzz/smoke.sh build-fuzz "$secs"
fi
