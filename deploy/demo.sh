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
# The guide's routine, as code: every schedule of the example file.
echo "schedules_file: $top/deploy/examples/schedules.yaml" \
	>>"$demo/controller/controller.yaml"
echo "controller key: $key"
echo "enrollment token (3 uses): ${token:0:8}..."
"$bin/vsm-controller" run --config "$demo/controller/controller.yaml" \
	>"$demo/controller/log" 2>&1 &
echo $! >>"$demo/pids"

export VSM_DIR=$demo/controller
ctl() { "$bin/vsmctl" "$@"; }

# A loopback port nothing listens on (besides the ones taken above).
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		[ "$p" != "$port" ] && ! ss -Hltn "sport = :$p" | grep -q . &&
			{ echo "$p"; return; }
	done
	die "no free loopback port"
}

# What the db hosts look after: a PostgreSQL with the guide's tables (some
# rows deleted, so there is bloat to find) and a Redis, both on loopback
# in the demo directory. initdb refuses root: as root they run as nobody.
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || die "PostgreSQL server binaries not found (install-deps.sh installs them)"
pgport=$(free_port)
redisport=$(free_port)
[ "$redisport" != "$pgport" ] || redisport=$(free_port)
as_pg=()
if [ "$(id -u)" = 0 ]; then
	chmod 711 "$demo"
	as_pg=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
fi
echo "== PostgreSQL (127.0.0.1:$pgport) and Redis (127.0.0.1:$redisport) for the db hosts"
mkdir -p "$demo/postgres" "$demo/redis"
[ "$(id -u)" = 0 ] && chown nobody: "$demo/postgres"
"${as_pg[@]}" "$pgbin/initdb" -D "$demo/postgres/data" -U postgres \
	--auth=trust >"$demo/postgres/initdb.log" 2>&1 ||
	{ cat "$demo/postgres/initdb.log" >&2; die "initdb failed"; }
"${as_pg[@]}" "$pgbin/postgres" -D "$demo/postgres/data" -h 127.0.0.1 \
	-p "$pgport" -k "$demo/postgres" \
	-c shared_preload_libraries=pg_stat_statements >"$demo/postgres/log" 2>&1 &
echo $! >>"$demo/pids"
redis-server --bind 127.0.0.1 --port "$redisport" --dir "$demo/redis" \
	--save "" --daemonize no >"$demo/redis/log" 2>&1 &
echo $! >>"$demo/pids"
psql_demo() { psql -X -q -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 "$@"; }
for _ in $(seq 1 60); do
	psql_demo -d postgres -c 'SELECT 1' >/dev/null 2>&1 && break
	sleep 0.5
done
psql_demo -d postgres -c 'CREATE DATABASE vitalstream' >/dev/null
psql_demo -d vitalstream >/dev/null <<'EOSQL'
CREATE EXTENSION pg_stat_statements;
CREATE TABLE patients (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE vital_signs (id bigserial PRIMARY KEY, patient_id int NOT NULL,
	taken_at timestamptz NOT NULL DEFAULT now(), heart_rate int)
	WITH (autovacuum_enabled = false);
CREATE TABLE alarms (id bigserial PRIMARY KEY, patient_id int NOT NULL,
	active boolean NOT NULL DEFAULT true) WITH (autovacuum_enabled = false);
CREATE INDEX vital_signs_patient ON vital_signs (patient_id, taken_at);
INSERT INTO patients (name) SELECT 'patient ' || g FROM generate_series(1, 200) g;
INSERT INTO vital_signs (patient_id, heart_rate)
	SELECT 1 + g % 200, 60 + g % 40 FROM generate_series(1, 50000) g;
INSERT INTO alarms (patient_id, active) SELECT 1 + g % 200, g % 7 = 0
	FROM generate_series(1, 5000) g;
DELETE FROM vital_signs WHERE id % 3 = 0;
ANALYZE;
EOSQL
for _ in $(seq 1 40); do
	redis-cli -h 127.0.0.1 -p "$redisport" ping >/dev/null 2>&1 && break
	sleep 0.25
done
redis-cli -h 127.0.0.1 -p "$redisport" eval \
	"for i = 1, 2000 do redis.call('set', 'cache:' .. i, i) end" 0 >/dev/null

for spec in db-1:role=db db-2:role=db app-1:role=app; do
	name=${spec%%:*}
	label=${spec#*:}
	echo "== agent $name ($label, env=demo)"
	"$bin/vsm-agent" init --dir "$demo/$name" --controller "$url" \
		--controller-key "$key" --token "$token" --name "$name" \
		--label "$label" --label env=demo --label app=vitalstream >/dev/null
	# What this host runs and may touch (docs/config.md).
	mkdir -p "$demo/$name/logs"
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	printf '%s\n' "$now api-gateway started" \
		"$now alarm-engine ERROR lost connection to redis" \
		"$now alarm-engine reconnected" >"$demo/$name/logs/app.log"
	# Last month's log, for logs.clean.
	echo "old" >"$demo/$name/logs/app-old.log"
	touch -d '40 days ago' "$demo/$name/logs/app-old.log"
	cat >>"$demo/$name/agent.yaml" <<EOY
logs:
  dirs: ["$demo/$name/logs"]
  clean_dirs: ["$demo/$name/logs"]
EOY
	if [ "$label" = role=db ]; then
		cat >>"$demo/$name/agent.yaml" <<EOY
postgres:
  conninfo: "host=127.0.0.1 port=$pgport user=postgres dbname=vitalstream"
redis:
  host: 127.0.0.1
  port: $redisport
EOY
	fi
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
echo "== vsmctl run sys.health --target all --wait"
ctl run sys.health --target all --wait
echo
echo "== vsmctl run pg.bloat --target role=db --wait"
ctl run pg.bloat --target role=db --param min_rows=100 --wait
echo
echo "== vsmctl run redis.memory --target role=db --wait"
ctl run redis.memory --target role=db --wait
echo
echo "== vsmctl run logs.scan --target all --wait"
ctl run logs.scan --target all --wait
echo
echo "== vsmctl run logs.clean --target all --param older_than=30d --dry-run --wait"
ctl run logs.clean --target all --param older_than=30d --dry-run --wait
echo
echo "== vsmctl schedule list (deploy/examples/schedules.yaml)"
ctl schedule list
echo
echo "== vsmctl schedule fire daily-health, then its run"
ctl schedule fire daily-health
for _ in $(seq 1 120); do
	ctl --json schedule show daily-health 2>/dev/null |
		jq -e '[.runs[]? | select(.job != null and .job != "")] | length > 0' \
			>/dev/null 2>&1 && break
	sleep 0.5
done
ctl schedule show daily-health
echo
echo "== vsmctl jobs"
ctl jobs

cat <<EOT

The fleet is still running in $demo (logs: */log). Try:
  VSM_DIR=$demo/controller $bin/vsmctl hosts
  VSM_DIR=$demo/controller $bin/vsmctl run sys.memory --target env=demo --wait
  VSM_DIR=$demo/controller $bin/vsmctl run pg.vacuum --target role=db --param table=vital_signs --wait
  VSM_DIR=$demo/controller $bin/vsmctl run redis.delete_pattern --target name=db-1 --param pattern='cache:*' --wait
  VSM_DIR=$demo/controller $bin/vsmctl schedule show daily-health   # its tasks start within the 2 min splay
  VSM_DIR=$demo/controller $bin/vsmctl schedule next '0 2 * * 0' --tz Europe/Berlin
  VSM_DIR=$demo/controller $bin/vsmctl audit
Stop it with:
  $0 stop $demo
EOT
