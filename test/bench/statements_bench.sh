#!/usr/bin/env bash
# statements_bench.sh — what DB_STATEMENTS=unnamed costs, and what pgbouncer
# in transaction mode adds (docs/deploy.md).
#
# Three namaskahd against make bench's database, measured side by side in
# one run with the same wrk load (GET /api/version and GET /api/auth/me with
# one token, STATEMENTS_BENCH_CONNECTIONS connections, default 32):
#   named      DB_STATEMENTS=named straight to PostgreSQL (the default)
#   unnamed    DB_STATEMENTS=unnamed straight to PostgreSQL
#   pgbouncer  DB_STATEMENTS=unnamed through pgbouncer 1.18, pool_mode =
#              transaction (8 server connections)
# Prints req/s and p99 of each and the ratios unnamed/named and
# pgbouncer/named. The runs interleave (named, unnamed, pgbouncer, twice)
# so a neighbour's load falls on all three alike.
#
# Connection: PGHOST (a socket directory), PGPORT, PGUSER, PGDATABASE and
# DATABASE_URL from the environment (make bench's database).
# STATEMENTS_BENCH_SECONDS sets each run's length (default 5). Exit status 0
# when it ran (figures are reported, not enforced).
set -eu

case "${1:-}" in
-h | --help)
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

SECONDS_EACH=${STATEMENTS_BENCH_SECONDS:-5}
CONNS=${STATEMENTS_BENCH_CONNECTIONS:-32}
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/nk-stmtbench.XXXXXX)
chmod 0755 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    [ -f "$work/pgbouncer.pid" ] && kill -TERM "$(cat "$work/pgbouncer.pid")" 2>/dev/null
    sleep 0.3
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
if [ "$(id -u)" = 0 ]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi

# pgbouncer in transaction mode in front of the bench database
bport=$(free_port)
db=$(/usr/bin/python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).path.lstrip("/"))' "$DATABASE_URL")
verifier=$(psql -X -At -c "SELECT rolpassword FROM pg_authid WHERE rolname = 'namaskah_frontend'")
printf '"namaskah_frontend" "%s"\n' "$verifier" >"$work/userlist.txt"
cat >"$work/pgbouncer.ini" <<INI
[databases]
$db = host=$PGHOST port=$PGPORT dbname=$db
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
pidfile = $work/pgbouncer.pid
logfile = $work/pgbouncer.log
pool_mode = transaction
default_pool_size = 8
max_client_conn = 200
auth_type = scram-sha-256
auth_file = $work/userlist.txt
INI
chown postgres "$work/userlist.txt" "$work/pgbouncer.ini" 2>/dev/null || true
chown postgres "$work" 2>/dev/null || true
as_pg pgbouncer -d -q "$work/pgbouncer.ini" || { echo "statements_bench: pgbouncer did not start"; exit 0; }
bounced_url=$(sed -E "s|@[^/]*/|@127.0.0.1:$bport/|" <<<"$DATABASE_URL")

start() { # name url statements
    local port; port=$(free_port)
    DATABASE_URL=$2 DB_STATEMENTS=$3 LISTEN=127.0.0.1:$port METRICS_LISTEN=off ENV_FILE=/dev/null \
        LOG_LEVEL=warn DB_POOL_SIZE=8 "$top/frontend/namaskahd" >"$work/$1.log" 2>&1 &
    pids+=($!)
    eval "port_$1=$port"
    for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "statements_bench: namaskahd ($1) did not start"; exit 0
}
start named "$DATABASE_URL" named
start unnamed "$DATABASE_URL" unnamed
start pgbouncer "$bounced_url" unnamed

token=$(psql -X -At -c "SELECT namaskah.jwt_issue(jsonb_build_object('sub', 'statements-bench', 'role', 'user'))")
cat >"$work/me.lua" <<LUA
request = function()
    return wrk.format("GET", "/api/auth/me", {["Authorization"] = "Bearer $token"})
end
LUA

# Adds one wrk run's req/s and p99 to the totals of name/path.
run() { # name path [lua]
    local port_var=port_$1 out
    out=$work/$1-$(basename "$2").wrk
    wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --latency ${3:+-s "$3"} "http://127.0.0.1:${!port_var}$2" >"$out" 2>&1
    awk '/Requests\/sec/ {print $2}' "$out" >>"$work/$1-$(basename "$2").rps"
    awk '$1 == "99.000%" || $1 == "99%" {v = $2; if (v ~ /us$/) v = v / 1000; else if (v ~ /ms$/) v = v + 0; else if (v ~ /s$/) v = v * 1000; print v}' \
        "$out" >>"$work/$1-$(basename "$2").p99"
}
mean() { awk '{s += $1; n++} END {if (n) printf "%.0f", s / n; else print 0}' "$1"; }
maxv() { sort -n "$1" | tail -1; }

for path in /api/version /api/auth/me; do
    lua=
    [ "$path" = /api/auth/me ] && lua=$work/me.lua
    for _ in 1 2; do
        for name in named unnamed pgbouncer; do run "$name" "$path" "$lua"; done
    done
    base=$(mean "$work/named-$(basename "$path").rps")
    for name in named unnamed pgbouncer; do
        r=$(mean "$work/$name-$(basename "$path").rps")
        printf '%-14s %-10s %8s req/s  p99 %7s ms  ratio to named %s\n' "$path" "$name" "$r" \
            "$(maxv "$work/$name-$(basename "$path").p99")" \
            "$(awk -v a="$r" -v b="$base" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}')"
    done
done
