#!/usr/bin/env bash
# setup.sh brings a developer machine to the state `make run` and `make test` need:
# PostgreSQL on 127.0.0.1:5432 (trust, user postgres), Redis on 127.0.0.1:6379,
# libchdb.so in a cache outside the repo, and the Go module cache filled.
# Idempotent and non-interactive: a second run changes nothing and prints the same lines.
set -euo pipefail

# libchdb.so comes from this npm package. Version and integrity are pinned together,
# like a lock file; to upgrade, take both from
#   npm view @chdb/lib-linux-x64-gnu@<version> version dist.integrity
CHDB_PACKAGE="@chdb/lib-linux-x64-gnu"
CHDB_VERSION="26.5.3"
CHDB_INTEGRITY="sha512-fPrLmRt5Moor9yGz4mazbrNje4t7X9KB2mTGkXFWRxRBs2iKy8yh6jx11xsa0Qr3iDFMU/yHqd+bVdYJXu3QaQ=="

READY_TIMEOUT=30 # seconds to wait for a service we started

: "${HOME:?setup: HOME is not set}"
export PATH="/usr/local/go/bin:${HOME}/go/bin:${PATH}"

die() { echo "setup: $*" >&2; exit 1; }

# System changes (apt, starting servers) need root; everything else runs as the caller, and
# a machine whose services already run needs neither root nor sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@" </dev/null
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@" </dev/null # -n: fail rather than ask for a password; there is no stdin
	else
		die "need root for '$1' and sudo is missing; run as root"
	fi
}

apt_install() {
	# Try the local package lists first; refresh them only when that fails.
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
	fi
}

# wait_for NAME CMD... polls CMD once a second until it succeeds or READY_TIMEOUT passes.
wait_for() {
	local name=$1 i
	shift
	for ((i = 0; i < READY_TIMEOUT; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 1
	done
	die "$name is not ready after ${READY_TIMEOUT}s (check: $*)"
}

# ---------------------------------------------------------------- postgres

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432; }

# shellcheck disable=SC2012 # version directories have plain names
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

pg_allow_trust() {
	# Fresh installs only: Debian's pg_hba.conf asks for a password on 127.0.0.1.
	# Rules are read top-down, so ours go first.
	local hba="/etc/postgresql/$1/main/pg_hba.conf"
	if ! as_root grep -q '^# impactflow dev' "$hba"; then
		as_root sed -i '1i # impactflow dev: trust local TCP connections for user postgres\nhost all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
	fi
}

pg_start() {
	as_root pg_ctlcluster --skip-systemctl-redirect "$1" main start ||
		die "could not start postgres cluster $1/main (see /var/log/postgresql/postgresql-$1-main.log)"
}

setup_postgres() {
	if pg_ready 2>/dev/null; then
		echo "ok postgres (127.0.0.1:5432)"
		return
	fi
	local version fresh=false
	version=$(pg_version)
	if [ -z "$version" ]; then
		if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
			echo "setup: installing postgresql (apt)"
			apt_install postgresql
		fi
		version=$(pg_version)
		if [ -z "$version" ]; then
			# Installed without a cluster (e.g. create_main_cluster = false).
			# shellcheck disable=SC2012
			version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
			as_root pg_createcluster "$version" main
		fi
		fresh=true
	fi
	command -v pg_isready >/dev/null 2>&1 || apt_install postgresql-client
	if $fresh; then
		pg_allow_trust "$version"
	fi
	if ! pg_ready 2>/dev/null; then
		pg_start "$version"
	elif $fresh; then
		# The package's init script may have started it before we changed pg_hba.conf.
		as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
	fi
	wait_for "postgres $version/main on 127.0.0.1:5432" pg_ready
	echo "ok postgres (127.0.0.1:5432, cluster $version/main)"
}

# ---------------------------------------------------------------- redis

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

setup_redis() {
	if command -v redis-cli >/dev/null 2>&1 && redis_ready; then
		echo "ok redis (127.0.0.1:6379)"
		return
	fi
	if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
		echo "setup: installing redis-server (apt)"
		apt_install redis-server
	fi
	# The package may have started its own server.
	if ! redis_ready; then
		as_root mkdir -p /var/lib/redis /var/log/redis
		as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 \
			--save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
	fi
	wait_for "redis on 127.0.0.1:6379" redis_ready
	echo "ok redis (127.0.0.1:6379)"
}

# ---------------------------------------------------------------- chdb

# integrity_hex turns npm's "sha512-<base64>" into the hex sha512sum prints.
integrity_hex() { printf '%s' "${1#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n'; }

setup_chdb() {
	local lib=${CHDB_LIB_PATH:-$HOME/.cache/impactflow/chdb/libchdb.so}
	lib=${lib/#\$HOME/$HOME} # config.Vars() documents the default as "$HOME/..."
	if [ -s "$lib" ]; then
		echo "ok chdb ($lib)"
		return
	fi
	local dir tarball found started
	dir=$(dirname "$lib")
	mkdir -p "$dir"
	# Leftovers of a run that was killed outright; younger ones may be a concurrent run.
	find "$dir" -maxdepth 1 -name '.download.*' -mmin +120 -exec rm -rf {} + 2>/dev/null || true
	# The download lives in the target's directory so the final mv is an atomic rename.
	CHDB_TMP=$(mktemp -d "$dir/.download.XXXXXX") # global: the EXIT trap needs it
	local tmp=$CHDB_TMP
	trap 'rm -rf "$CHDB_TMP"' EXIT
	trap 'exit 130' INT TERM # exit through the EXIT trap, so no half download stays
	started=$SECONDS
	echo "setup: downloading $CHDB_PACKAGE@$CHDB_VERSION (~560 MB) for libchdb.so"
	if command -v npm >/dev/null 2>&1; then
		# A private npm cache, removed with $tmp, so ~/.npm does not keep a second copy.
		tarball=$(cd "$tmp" && npm pack "$CHDB_PACKAGE@$CHDB_VERSION" --silent \
			--cache "$tmp/npm-cache" --pack-destination "$tmp" </dev/null | tail -n 1)
		tarball="$tmp/$tarball"
		rm -rf "$tmp/npm-cache"
	elif command -v curl >/dev/null 2>&1; then
		tarball="$tmp/chdb.tgz"
		curl -fsSL --retry 3 -o "$tarball" \
			"https://registry.npmjs.org/$CHDB_PACKAGE/-/${CHDB_PACKAGE#*/}-$CHDB_VERSION.tgz"
	else
		die "need npm or curl to fetch $CHDB_PACKAGE; or put libchdb.so at CHDB_LIB_PATH"
	fi
	[ -f "$tarball" ] || die "download of $CHDB_PACKAGE@$CHDB_VERSION failed"
	if [ "$(sha512sum "$tarball" | cut -d' ' -f1)" != "$(integrity_hex "$CHDB_INTEGRITY")" ]; then
		die "$CHDB_PACKAGE@$CHDB_VERSION: tarball does not match the pinned sha512 integrity"
	fi
	tar -xzf "$tarball" -C "$tmp"
	rm -f "$tarball"
	found=$(find "$tmp" -name libchdb.so -type f -print -quit)
	[ -n "$found" ] || die "$CHDB_PACKAGE@$CHDB_VERSION has no libchdb.so"
	chmod 0644 "$found"
	mv -f "$found" "$lib"
	rm -rf "$tmp"
	trap - EXIT INT TERM
	echo "ok chdb ($lib, installed $CHDB_PACKAGE@$CHDB_VERSION in $((SECONDS - started))s)"
}

# ---------------------------------------------------------------- go modules

setup_go() {
	command -v go >/dev/null 2>&1 || die "go is not on PATH (expected /usr/local/go/bin)"
	local root
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	(cd "$root" && go mod download)
	echo "ok go modules"
}

setup_postgres
setup_redis
setup_chdb
setup_go
