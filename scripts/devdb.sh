#!/usr/bin/env bash
# Project-local Postgres for `make run`, `make test` and `make bench`.
#
#   scripts/devdb.sh up     start (installing and initialising if needed) and
#                           print `export` lines for the Makefile to eval;
#                           logs go to stderr. Also written to .data/env.
#   scripts/devdb.sh down   stop it
#   scripts/devdb.sh url [dev|test|bench]
#                           print one database URL (starting it if needed)
#   scripts/devdb.sh psql   open psql on the dev database
#
# It never touches a system Postgres: its own data directory, its own port
# (derived from this clone's path, so two clones can run side by side;
# CONNVAULT_DEV_PG_PORT overrides it at start) and its own socket directory,
# listening on 127.0.0.1 only. With CONNVAULT_DATABASE_URL set it starts
# nothing and uses that database (for tests too, unless
# CONNVAULT_TEST_DATABASE_URL is set).
#
# initdb and pg_ctl refuse to run as root, and the postgres user cannot
# always enter a root-owned clone, so as root the cluster lives under /tmp,
# owned by postgres; otherwise under .data/pg.
#
# .data/ (gitignored) holds the dev encryption key, the `pg` pointer to the
# cluster and `env`, the export lines of the last `up`.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd -P)"
data_dir="$repo/.data"
mkdir -p "$data_dir"
chmod 700 "$data_dir"

log() { echo "devdb: $*" >&2; }
die() { log "$*"; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

hash="$(printf '%s' "$repo" | cksum | cut -d' ' -f1)"
if is_root; then
	cluster="/tmp/connvault-pg-$hash"
	if command -v runuser >/dev/null; then
		run_pg() { (cd / && runuser -u postgres -- "$@"); }
	else
		run_pg() { (cd / && su postgres -s /bin/sh -c "$(printf '%q ' "$@")"); }
	fi
else
	cluster="$data_dir/pg"
	run_pg() { "$@"; }
fi
pgdata="$cluster/data"
socket="$cluster/socket"
# A unix socket path has at most 107 bytes; a deep clone gets a short one.
if [ $((${#socket} + 20)) -gt 107 ]; then
	socket="${TMPDIR:-/tmp}/connvault-pg-$hash-$(id -u)"
fi

# One `up`/`down` at a time per clone: `make test` and `make run` may start
# together. The lock's descriptor is closed for the server it starts.
lock() {
	exec 9>"$data_dir/devdb.lock"
	flock -w 300 9 || die "another scripts/devdb.sh has held $data_dir/devdb.lock for 5 minutes"
}

# The server binaries: those the cluster was made with, else the newest.
find_bin() {
	if [ -s "$pgdata/PG_VERSION" ]; then
		local v
		v="$(cat "$pgdata/PG_VERSION")"
		[ -x "/usr/lib/postgresql/$v/bin/initdb" ] && { echo "/usr/lib/postgresql/$v/bin"; return 0; }
		log "the cluster in $pgdata is PostgreSQL $v but /usr/lib/postgresql/$v/bin is missing"
	fi
	local dir
	dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | while read -r d; do
		[ -x "$d/initdb" ] && echo "$d"
	done | tail -n1)"
	[ -n "$dir" ] && echo "$dir"
}

install_postgres() {
	log "PostgreSQL server binaries not found: installing with apt-get"
	is_root || die "need root to apt-get install postgresql; install it or set CONNVAULT_DATABASE_URL"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq </dev/null >&2
	apt-get install -y -qq postgresql </dev/null >&2 ||
		apt-get install -y -qq postgresql-15 </dev/null >&2
	# The package may start a system cluster; ours runs beside it on its own port.
}

# The dev encryption key lives with the cluster whose secrets it encrypts
# (as root the cluster is outside the clone, and a fresh clone at the same
# path must not meet the old rows with a new key). A cluster without its
# key is started afresh: its secrets could not be read anyway.
encryption_key() {
	local f="$cluster/encryption.key" old="$data_dir/encryption.key"
	if [ ! -s "$f" ] && [ -s "$old" ] && [ -s "$pgdata/PG_VERSION" ]; then
		cp "$old" "$f" # the layout before the key moved next to the cluster
	fi
	if [ ! -s "$f" ]; then
		if [ -s "$pgdata/PG_VERSION" ]; then
			log "the cluster in $pgdata has no encryption key beside it: starting it afresh"
			running && run_pg "$bin/pg_ctl" -D "$pgdata" -m fast -w stop >&2
			run_pg rm -rf "$pgdata"
		fi
		(umask 077 && head -c 32 /dev/urandom | base64 >"$f.tmp" && mv "$f.tmp" "$f")
		log "created a dev encryption key in $f"
	fi
	chmod 600 "$f"
	cat "$f"
}

# With an external database: the pg_dump matching its major version if
# installed, else the newest pg_dump here (it can dump older servers).
external_pg_bin() {
	local major="" dir
	if command -v psql >/dev/null; then
		major="$(PGCONNECT_TIMEOUT=5 psql -X -tA -d "$CONNVAULT_DATABASE_URL" \
			-c 'SHOW server_version_num' </dev/null 2>/dev/null || true)"
		major="${major:0:2}"
	fi
	if [ -n "$major" ] && [ -x "/usr/lib/postgresql/$major/bin/pg_dump" ]; then
		echo "/usr/lib/postgresql/$major/bin"
		return 0
	fi
	dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | while read -r d; do
		[ -x "$d/pg_dump" ] && echo "$d"
	done | tail -n1)"
	[ -n "$dir" ] && echo "$dir"
}

# The port the cluster listens on: the running server's, else the one to start it on.
cluster_port() {
	if [ -s "$pgdata/postmaster.pid" ]; then
		local p
		p="$(sed -n 4p "$pgdata/postmaster.pid" 2>/dev/null || true)"
		[[ "$p" =~ ^[0-9]+$ ]] && { echo "$p"; return 0; }
	fi
	echo "${CONNVAULT_DEV_PG_PORT:-$((20000 + hash % 20000))}"
}

running() { run_pg "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; }

prepare_cluster_dir() {
	bin="$(find_bin)" || { install_postgres; bin="$(find_bin)" || die "no PostgreSQL server binaries after installing"; }
	if is_root; then
		id postgres >/dev/null 2>&1 || die "user postgres is missing (is the postgresql package installed?)"
		mkdir -p "$cluster"
		chown postgres: "$cluster"
		chmod 700 "$cluster"
		if [ -L "$data_dir/pg" ] || [ ! -e "$data_dir/pg" ]; then
			ln -sfn "$cluster" "$data_dir/pg"
		fi
	else
		mkdir -p "$cluster"
	fi
}

start_local() {
	bin="$(find_bin)" || die "no PostgreSQL server binaries"

	if [ ! -s "$pgdata/PG_VERSION" ]; then
		log "initialising a cluster in $pgdata"
		run_pg rm -rf "$pgdata"
		run_pg mkdir -p "$pgdata" "$socket"
		run_pg "$bin/initdb" -D "$pgdata" -U postgres -A trust --no-sync -E UTF8 </dev/null >&2
		# The postgres superuser may log in over loopback without a
		# password (dev only); every other role needs its password, so
		# provider checks against this database can fail for real.
		# Nothing but the unix socket and 127.0.0.1 is accepted.
		run_pg tee "$pgdata/pg_hba.conf" >/dev/null <<-HBA
			local all all trust
			host all postgres 127.0.0.1/32 trust
			host all all 127.0.0.1/32 scram-sha-256
		HBA
	fi
	run_pg mkdir -p "$socket"
	run_pg chmod 700 "$socket"
	port="$(cluster_port)"
	if ! running; then
		port="${CONNVAULT_DEV_PG_PORT:-$((20000 + hash % 20000))}"
		if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2 || [ $? = 1 ]; then
			die "127.0.0.1:$port is already taken by another server; start with CONNVAULT_DEV_PG_PORT=<free port>, or set CONNVAULT_DATABASE_URL"
		fi
		log "starting Postgres on 127.0.0.1:$port (data in $pgdata)"
		if ! run_pg "$bin/pg_ctl" -D "$pgdata" -w -t 60 -l "$cluster/postgres.log" \
			-o "-p $port -k $socket -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start </dev/null >&2 9>&-; then
			log "Postgres did not start; the end of $cluster/postgres.log:"
			run_pg tail -n 20 "$cluster/postgres.log" >&2 || true
			exit 1
		fi
	fi
	local ready=""
	for _ in $(seq 1 120); do
		if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then ready=1; break; fi
		sleep 0.5
	done
	[ -n "$ready" ] || die "Postgres on 127.0.0.1:$port is not ready after 60s; see $cluster/postgres.log"
	local psql=("$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
	for db in connvault connvault_test connvault_bench; do
		if [ -z "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" </dev/null)" ]; then
			"${psql[@]}" -c "CREATE DATABASE $db" </dev/null >&2
		fi
		"${psql[@]}" -d "$db" -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pgcrypto" </dev/null >&2
	done
}

up() {
	lock
	local out=() key
	if [ -n "${CONNVAULT_DATABASE_URL:-}" ]; then
		if [ -z "${CONNVAULT_ENCRYPTION_KEY:-}" ]; then
			cluster="$data_dir" pgdata="$data_dir/no-cluster" key="$(encryption_key)"
			out+=("export CONNVAULT_ENCRYPTION_KEY='$key'")
		fi
		log "using CONNVAULT_DATABASE_URL; no local Postgres started"
		out+=("export CONNVAULT_TEST_DATABASE_URL='${CONNVAULT_TEST_DATABASE_URL:-$CONNVAULT_DATABASE_URL}'")
		out+=("export CONNVAULT_BENCH_DATABASE_URL='${CONNVAULT_BENCH_DATABASE_URL:-$CONNVAULT_DATABASE_URL}'")
		local pgbin="${CONNVAULT_PG_BIN:-}"
		[ -n "$pgbin" ] || pgbin="$(external_pg_bin || true)"
		if [ -n "$pgbin" ]; then
			out+=("export CONNVAULT_PG_BIN='$pgbin'")
		else
			log "no pg_dump found; set CONNVAULT_PG_BIN for the tests that call it"
		fi
		printf '%s\n' "${out[@]}"
		return 0
	fi
	local bin port
	prepare_cluster_dir
	bin="$(find_bin)" || true
	key="$(encryption_key)"
	if [ -z "${CONNVAULT_ENCRYPTION_KEY:-}" ]; then
		out+=("export CONNVAULT_ENCRYPTION_KEY='$key'")
	fi
	start_local
	local base="postgres://postgres@127.0.0.1:$port"
	out+=("export CONNVAULT_DATABASE_URL='$base/connvault?sslmode=disable'")
	out+=("export CONNVAULT_TEST_DATABASE_URL='$base/connvault_test?sslmode=disable'")
	out+=("export CONNVAULT_BENCH_DATABASE_URL='$base/connvault_bench?sslmode=disable'")
	out+=("export CONNVAULT_PG_BIN='$bin'")
	# The server's log, for the test that looks for secrets in it.
	out+=("export CONNVAULT_PG_LOG='$cluster/postgres.log'")
	{
		echo "# written by scripts/devdb.sh up; source it to reach the dev cluster"
		echo "export CONNVAULT_ENCRYPTION_KEY=\"\${CONNVAULT_ENCRYPTION_KEY:-\$(cat '$cluster/encryption.key')}\""
		printf '%s\n' "${out[@]}" | grep -v '^export CONNVAULT_ENCRYPTION_KEY='
	} >"$data_dir/env.tmp"
	mv "$data_dir/env.tmp" "$data_dir/env"
	printf '%s\n' "${out[@]}"
}

down() {
	lock
	local bin
	bin="$(find_bin)" || { log "no PostgreSQL binaries; nothing to stop"; return 0; }
	if [ -s "$pgdata/PG_VERSION" ] && running; then
		run_pg "$bin/pg_ctl" -D "$pgdata" -m fast -w stop >&2
	else
		log "no local Postgres running for $repo"
	fi
}

case "${1:-}" in
up) up ;;
down) down ;;
url)
	eval "$(up)"
	case "${2:-dev}" in
	dev) echo "$CONNVAULT_DATABASE_URL" ;;
	test) echo "$CONNVAULT_TEST_DATABASE_URL" ;;
	bench) echo "$CONNVAULT_BENCH_DATABASE_URL" ;;
	*) echo "usage: $0 url [dev|test|bench]" >&2; exit 2 ;;
	esac
	;;
psql)
	eval "$(up)"
	shift
	psql_bin="$(command -v psql || true)"
	[ -n "$psql_bin" ] || psql_bin="${CONNVAULT_PG_BIN:-}/psql"
	exec "$psql_bin" "$CONNVAULT_DATABASE_URL" "$@"
	;;
*)
	echo "usage: $0 up|down|url [dev|test|bench]|psql [psql args]" >&2
	exit 2
	;;
esac
