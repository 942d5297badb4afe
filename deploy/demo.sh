#!/bin/bash
# The README's main job: from nothing to a working fleet on this machine.
#
#   ./deploy/demo.sh            install, build, start a controller and three
#                               agents on loopback, enroll them with a token,
#                               run fleet-wide tasks and print the results
#   ./deploy/demo.sh stop DIR   stop the fleet a previous run left in DIR
#
# Everything lives in one directory (VSM_DEMO_DIR, or a new /tmp/vsm-demo.*):
# each daemon has its own subdirectory, config, keys and log. The fleet keeps
# running after the script ends, so that you can try vsmctl on it; the last
# lines say how to use it and how to stop it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/build/bin

die() { echo "demo: $*" >&2; exit 1; }

stop_fleet() {
	local dir=$1 pid
	[ -f "$dir/pids" ] || die "$dir/pids: no fleet was started there"
	while read -r pid; do
		kill "$pid" 2>/dev/null || true
	done <"$dir/pids"
	rm -f "$dir/pids"
	echo "demo: fleet in $dir stopped"
}

if [ "${1:-}" = stop ]; then
	[ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
	stop_fleet "$2"
	exit 0
fi
[ $# -eq 0 ] || { echo "usage: $0 [stop DIR]" >&2; exit 2; }

cd "$top"
./deploy/install-deps.sh
echo "== build (build/)"
# Options set explicitly: a build/ configured by hand (sanitizers, fuzzing)
# must not leak into the demo.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVSM_SANITIZE=OFF \
	-DVSM_FUZZ=OFF >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

demo=${VSM_DEMO_DIR:-$(mktemp -d /tmp/vsm-demo.XXXXXX)}
mkdir -p "$demo"
: >"$demo/pids"

# A loopback port nothing listens on.
for _ in $(seq 1 50); do
	port=$((20000 + RANDOM % 40000))
	ss -Hltn "sport = :$port" | grep -q . || break
done
url=tcp://127.0.0.1:$port

echo "== controller ($url)"
"$bin/vsm-controller" init --dir "$demo/controller" --listen "$url" \
	--token-uses 3 >"$demo/init.out" 2>&1 ||
	{ cat "$demo/init.out" >&2; die "controller init failed"; }
key=$(awk -F': ' '/^controller key:/ {print $2}' "$demo/init.out")
token=$(awk -F': ' '/^enrollment token:/ {print $2}' "$demo/init.out")
[ -n "$key" ] && [ -n "$token" ] || die "could not read the key and token from init"
echo "controller key: $key"
echo "enrollment token (3 uses): ${token:0:8}..."
"$bin/vsm-controller" run --config "$demo/controller/controller.yaml" \
	>"$demo/controller/log" 2>&1 &
echo $! >>"$demo/pids"

export VSM_DIR=$demo/controller
ctl() { "$bin/vsmctl" "$@"; }

for spec in db-1:role=db db-2:role=db app-1:role=app; do
	name=${spec%%:*}
	label=${spec#*:}
	echo "== agent $name ($label, env=demo)"
	"$bin/vsm-agent" init --dir "$demo/$name" --controller "$url" \
		--controller-key "$key" --token "$token" --name "$name" \
		--label "$label" --label env=demo >/dev/null
	"$bin/vsm-agent" run --config "$demo/$name/agent.yaml" \
		>"$demo/$name/log" 2>&1 &
	echo $! >>"$demo/pids"
done

echo "== waiting for the three agents to enroll"
for _ in $(seq 1 60); do
	up=$(ctl --json hosts 2>/dev/null |
		jq '[.[] | select(.connected)] | length' 2>/dev/null || echo 0)
	[ "$up" = 3 ] && break
	sleep 0.5
done
[ "$up" = 3 ] || { ctl hosts || true; die "only $up of 3 agents connected; logs in $demo"; }

echo "== vsmctl hosts"
ctl hosts
echo
echo "== vsmctl run sys.disk --target all --wait"
ctl run sys.disk --target all --wait
echo
echo "== vsmctl run sys.load --target role=db --wait"
ctl run sys.load --target role=db --wait
echo
echo "== vsmctl jobs"
ctl jobs

cat <<EOT

The fleet is still running in $demo (logs: */log). Try:
  VSM_DIR=$demo/controller $bin/vsmctl hosts
  VSM_DIR=$demo/controller $bin/vsmctl run sys.memory --target env=demo --wait
  VSM_DIR=$demo/controller $bin/vsmctl audit
Stop it with:
  $0 stop $demo
EOT
