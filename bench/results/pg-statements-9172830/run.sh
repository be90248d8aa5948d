#!/bin/bash
# run.sh SCRIPT.sql SECONDS: pgbench -c 8 -j 2 -M prepared of one statement against the
# bench database (after a `make bench`), one connection's row; prints tps and the CPU the
# cluster's processes spent per transaction (ended backends included).
set -eu
DB=${CONNVAULT_BENCH_DATABASE_URL:?run eval "$(scripts/devdb.sh up)" first}
PGBIN=${CONNVAULT_PG_BIN:-/usr/lib/postgresql/15/bin}
read ORG CID VER < <(psql "$DB" -Atc "SELECT c.internal_id||' '||c.connection_id||' '||c.version FROM connections c JOIN connection_secrets s USING (internal_id, connection_id) WHERE c.provider_type = 's3' AND c.status = 'ACTIVE' LIMIT 1")
# The bench server's key (bench/cmd/loadgen: benchKey), derived as store.NewKeyring does.
read KEY KID < <(python3 -c "
import hmac, hashlib, base64
k = b'bench-encryption-key-0123456789abcdef-0123456789'
d = lambda p: hmac.new(k, p, hashlib.sha256).digest()
print(base64.b64encode(d(b'connvault pgcrypto v1')).decode().rstrip('='), 'k_' + d(b'connvault key id v1').hex()[:12])")
PM=$(psql "$DB" -Atc "SELECT pg_backend_pid()" >/dev/null; head -1 "$(psql "$DB" -Atc 'SHOW data_directory')/postmaster.pid")
ticks() { local t=0 f; for p in $PM $(pgrep -P "$PM"); do read -ra f < <(sed 's/.*) //' /proc/$p/stat 2>/dev/null) || continue; t=$((t + f[11] + f[12])); [ "$p" = "$PM" ] && t=$((t + f[13] + f[14])); done; echo $t; }
a=$(ticks)
out=$("$PGBIN/pgbench" -n -M prepared -c 8 -j 2 -T "$2" -D org="$ORG" -D cid="$CID" -D ver="$VER" -D key="$KEY" -D kid="$KID" -f "$1" "$DB" 2>&1)
b=$(ticks)
n=$(echo "$out" | awk -F': ' '/number of transactions actually processed/{split($2, x, "/"); print x[1]}')
echo "$(basename "$1") $(echo "$out" | awk '/^tps/{print "tps=" $3}') postgres_us_per_tx=$(( (b - a) * 10000 / n ))"
