#!/bin/sh
# The README's main job. For now: install what vsm needs, build it, and
# run the channel demo: a controller and an agent on loopback complete the
# Noise IK handshake, exchange encrypted heartbeats and echoes, and a
# stranger's key is refused. Everything runs in one process that exits by
# itself; the keys it wrote stay in a temporary directory it names.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

./deploy/install-deps.sh
echo "== build (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
echo "== channel demo"
./build/bin/vsm-channel-demo "$@"
