#!/bin/sh
# Install every Debian package vsm needs to build, test, fuzz and benchmark.
# Idempotent and quiet: packages already present are not touched, and apt is
# only called when something is missing. Runs as root, or through sudo.
set -eu

PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
git ca-certificates
libnng-dev nng-utils
libprotobuf-c-dev protobuf-c-compiler
libsodium-dev
libpq-dev postgresql
libhiredis-dev redis-server
libmongoc-dev libbson-dev
libcurl4-openssl-dev libssl-dev openssl
logrotate
libsqlite3-dev sqlite3
libyaml-dev libcyaml-dev
libjansson-dev
libarchive-dev
libzstd-dev
libcmocka-dev
iproute2 procps jq tzdata"

die() { echo "install-deps: $*" >&2; exit 1; }

command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1 ||
	die "this script needs a Debian or Ubuntu system with apt-get (Debian 12 is the reference)"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	die "need root or sudo to install:$missing"
fi

echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || die "apt-get update failed"
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
	die "apt-get install failed for:$missing"
# The Debian postgresql package starts a cluster on port 5432; vsm's tests
# run their own servers and never need it, but leave the system's alone.
exit 0
