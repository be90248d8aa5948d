#!/usr/bin/env bash
# Project-local Postgres for `make run`, `make test` and `make bench`.
#
#   scripts/devdb.sh up     start (installing and initialising if needed) and
#                           print `export` lines for the Makefile to eval
#   scripts/devdb.sh down   stop it
#   scripts/devdb.sh psql   open psql on the dev database
#
# It never touches a system Postgres: its own data directory, its own port
# (derived from this clone's path, so two clones can run side by side) and
# its own socket directory, listening on 127.0.0.1 only. With
# CONNVAULT_DATABASE_URL set it starts nothing and uses that database.
#
# initdb and pg_ctl refuse to run as root, and the postgres user cannot
# always enter a root-owned clone, so as root the cluster lives under /tmp,
# owned by postgres; otherwise under .data/pg.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
data_dir="$repo/.data"
mkdir -p "$data_dir"
chmod 700 "$data_dir"

log() { echo "devdb: $*" >&2; }

hash="$(printf '%s' "$repo" | cksum | cut -d' ' -f1)"
port="${CONNVAULT_DEV_PG_PORT:-$((20000 + hash % 20000))}"
if [ "$(id -u)" = 0 ]; then
	cluster="/tmp/connvault-pg-$hash"
	run_pg() { (cd / && runuser -u postgres -- "$@"); }
else
	cluster="$data_dir/pg"
	run_pg() { "$@"; }
fi
pgdata="$cluster/data"
socket="$cluster/socket"

find_bin() {
	for dir in /usr/lib/postgresql/*/bin; do
		[ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
	done
	return 1
}

install_postgres() {
	log "PostgreSQL server binaries not found: installing with apt-get"
	if [ "$(id -u)" != 0 ]; then
		log "need root to apt-get install postgresql; install it or set CONNVAULT_DATABASE_URL"
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq postgresql >&2 || apt-get install -y -qq postgresql-15 >&2
	# The package starts a system cluster; ours runs beside it on its own port.
}

encryption_key() {
	local f="$data_dir/encryption.key"
	if [ ! -s "$f" ]; then
		umask 077
		head -c 32 /dev/urandom | base64 >"$f"
		log "created a dev encryption key in $f"
	fi
	cat "$f"
}

up() {
	if [ -z "${CONNVAULT_ENCRYPTION_KEY:-}" ]; then
		echo "export CONNVAULT_ENCRYPTION_KEY='$(encryption_key)'"
	fi
	if [ -n "${CONNVAULT_DATABASE_URL:-}" ]; then
		log "using CONNVAULT_DATABASE_URL; no local Postgres started"
		echo "export CONNVAULT_TEST_DATABASE_URL='${CONNVAULT_TEST_DATABASE_URL:-$CONNVAULT_DATABASE_URL}'"
		echo "export CONNVAULT_BENCH_DATABASE_URL='${CONNVAULT_BENCH_DATABASE_URL:-$CONNVAULT_DATABASE_URL}'"
		return 0
	fi
	local bin
	bin="$(find_bin)" || { install_postgres; bin="$(find_bin)"; }
	if ! id postgres >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
		log "user postgres is missing"; exit 1
	fi
	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$cluster"
		chown postgres: "$cluster"
		chmod 700 "$cluster"
		ln -sfn "$cluster" "$data_dir/pg"
	fi
	if [ ! -s "$pgdata/PG_VERSION" ]; then
		log "initialising a cluster in $pgdata"
		run_pg mkdir -p "$pgdata" "$socket"
		run_pg "$bin/initdb" -D "$pgdata" -U postgres -A trust --no-sync -E UTF8 >&2
		# The postgres superuser may log in over loopback without a
		# password (dev only); every other role needs its password, so
		# provider checks against this database can fail for real.
		run_pg tee "$pgdata/pg_hba.conf" >/dev/null <<-HBA
			local all all trust
			host all postgres 127.0.0.1/32 trust
			host all all 127.0.0.1/32 scram-sha-256
		HBA
	fi
	run_pg mkdir -p "$socket"
	if ! run_pg "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
		log "starting Postgres on 127.0.0.1:$port"
		run_pg "$bin/pg_ctl" -D "$pgdata" -w -t 60 -l "$cluster/postgres.log" \
			-o "-p $port -k $socket -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >&2
	fi
	for _ in $(seq 1 60); do
		"$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
		sleep 0.5
	done
	local psql=("$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
	for db in connvault connvault_test connvault_bench; do
		if [ -z "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
			"${psql[@]}" -c "CREATE DATABASE $db" >&2
		fi
		"${psql[@]}" -d "$db" -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pgcrypto" >&2
	done
	echo "export CONNVAULT_DATABASE_URL='postgres://postgres@127.0.0.1:$port/connvault?sslmode=disable'"
	echo "export CONNVAULT_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:$port/connvault_test?sslmode=disable'"
	echo "export CONNVAULT_BENCH_DATABASE_URL='postgres://postgres@127.0.0.1:$port/connvault_bench?sslmode=disable'"
	echo "export CONNVAULT_PG_BIN='$bin'"
}

down() {
	local bin
	bin="$(find_bin)" || exit 0
	if [ -s "$pgdata/PG_VERSION" ]; then
		run_pg "$bin/pg_ctl" -D "$pgdata" -m fast stop >&2 || true
	fi
}

case "${1:-}" in
up) up ;;
down) down ;;
psql)
	eval "$(up)"
	exec psql "$CONNVAULT_DATABASE_URL"
	;;
*)
	echo "usage: $0 up|down|psql" >&2
	exit 2
	;;
esac
