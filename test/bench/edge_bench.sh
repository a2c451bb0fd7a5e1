#!/usr/bin/env bash
# edge_bench.sh — namaskahd's edge under many, idle and slow clients.
#
# Runs namaskahd (the -O2 build) twice side by side on one database: with
# its defaults, and as the peer, with the connection model 2.4.0 shipped
# before the edge work (the same binary with the 32 worker threads of
# before: WORKER_THREADS=32), so every figure has its
# reference from the same run. For each:
#   keepalive512  512 keep-alive clients at once (test/bench/edge_clients.py,
#                 EDGE_SECONDS): time to each connection's first answer, and
#                 /health latency from a separate client meanwhile
#                 (targets: first answer <= 2 s, /health p99 <= 100 ms);
#   idle200       200 idle TCP connections, then a new client's latency
#                 (target: p99 <= 100 ms);
#   slow_headers, slow_body
#                 slowhttptest -c 1000 -H / -B (-i 10 -r 200 -x 24, bounded
#                 to EDGE_SLOW_SECONDS) and a probe client's latency
#                 (target: p99 < 1 s);
# then, for the defaults only: namaskahd's RSS with 1000 open connections
# (target < 64 MB) and over a soak of EDGE_SOAK_SECONDS of keep-alive load
# with connection churn (sampled every 10 s; target: flat).
#
# Needs DATABASE_URL (the frontend role) and PG* (a superuser) from
# test/bench/run. Prints figures; exits 0.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_RUN=${EDGE_SECONDS:-10}
SLOW=${EDGE_SLOW_SECONDS:-30}
SOAK=${EDGE_SOAK_SECONDS:-300}
work=$(mktemp -d /tmp/edge_bench.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    pkill -f "slowhttptest .*127.0.0.1:$port" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
probe() { /usr/bin/python3 "$top/test/bench/edge_probe.py" "$port" "$@"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0; }

start() { # label, extra env...
    shift
    port=$(free_port)
    env LISTEN=127.0.0.1:$port METRICS_LISTEN=off ENV_FILE=/dev/null LOG_LEVEL=warn "$@" \
        "$top/frontend/namaskahd" >"$work/namaskahd.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "edge_bench: namaskahd did not start"; cat "$work/namaskahd.log"; return 1
}
stop() { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; }

keepalive512() {
    /usr/bin/python3 "$top/test/bench/edge_clients.py" "$port" 512 "$SECONDS_RUN" /api/version \
        >"$work/crowd.out" 2>&1 &
    local crowd=$!
    sleep 0.5
    probe "$((SECONDS_RUN - 1))" 0.05 5 /health >"$work/health.out"
    wait "$crowd"
    printf '  %-14s answered %s/512, first answer p99 %s ms max %s ms, %s requests (%s); /health p99 %s ms max %s ms\n' \
        keepalive512 "$(field answered <"$work/crowd.out")" "$(field first_p99_ms <"$work/crowd.out")" \
        "$(field first_max_ms <"$work/crowd.out")" "$(field requests <"$work/crowd.out")" \
        "$(field statuses <"$work/crowd.out")" "$(field p99_ms <"$work/health.out")" \
        "$(field max_ms <"$work/health.out")"
}

idle200() {
    /usr/bin/python3 - "$port" 200 6 <<'PY' &
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(int(sys.argv[2]))]
time.sleep(float(sys.argv[3]))
PY
    local idle=$!
    sleep 1
    probe 3 0.05 5 /api/version >"$work/idle.out"
    wait "$idle"
    printf '  %-14s new client: answered %s/%s, p50 %s ms, p99 %s ms, max %s ms\n' idle200 \
        "$(field ok <"$work/idle.out")" "$(field n <"$work/idle.out")" "$(field p50_ms <"$work/idle.out")" \
        "$(field p99_ms <"$work/idle.out")" "$(field max_ms <"$work/idle.out")"
}

slow() { # name mode seconds
    slowhttptest "$2" -c 1000 -i 10 -r 200 -x 24 -p 3 -s 8192 -l "$3" \
        -u "http://127.0.0.1:$port/api/version" >"$work/slow.out" 2>&1 &
    local attack=$! peak=0 r
    sleep 6 # the 1000 connections are open after 5 s
    probe "$(($3 - 8))" 0.1 5 /health /api/version >"$work/probe.out" &
    local prober=$!
    while kill -0 "$prober" 2>/dev/null; do r=$(rss_kb); [ "$r" -gt "$peak" ] && peak=$r; sleep 1; done
    wait "$prober"
    kill "$attack" 2>/dev/null; wait "$attack" 2>/dev/null
    while read -r path rest; do
        printf '  %-14s %-13s answered %s/%s, p50 %s ms, p99 %s ms, max %s ms; RSS peak %s MB\n' "$1" "$path" \
            "$(field ok <<<" $rest")" "$(field n <<<" $rest")" "$(field p50_ms <<<" $rest")" \
            "$(field p99_ms <<<" $rest")" "$(field max_ms <<<" $rest")" "$((peak / 1024))"
    done <"$work/probe.out"
}

rss_1000() {
    local before after
    before=$(rss_kb)
    /usr/bin/python3 - "$port" 1000 5 <<'PY' &
import socket, sys, time
socks = []
for _ in range(int(sys.argv[2])):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"GET /api/version HTTP/1.1\r\nHost: bench\r\n\r\n")
    socks.append(s)
time.sleep(float(sys.argv[3]))
PY
    local holder=$!
    sleep 4
    after=$(rss_kb)
    wait "$holder"
    printf '  %-14s RSS %s MB idle, %s MB with 1000 open connections (each after one request)\n' \
        rss "$((before / 1024))" "$((after / 1024))"
}

soak() {
    local samples=() end=$((SECONDS + SOAK))
    wrk -t 2 -c 64 -d "${SOAK}s" "http://127.0.0.1:$port/api/version" >"$work/soak.wrk" 2>&1 &
    local load=$!
    while [ $SECONDS -lt $end ]; do
        # churn: 200 short-lived connections every 10 s besides the keep-alive load
        probe 1 0.005 5 /health >/dev/null
        samples+=("$(($(rss_kb) / 1024))")
        sleep 9
    done
    wait "$load"
    printf '  %-14s %ss of wrk -c 64 plus connection churn: RSS every 10 s (MB): %s; %s req/s\n' soak \
        "$SOAK" "${samples[*]}" "$(awk '/Requests\/sec/ {print $2}' "$work/soak.wrk")"
}

for config in defaults peer; do
    if [ $config = defaults ]; then
        echo "namaskahd with its defaults (WORKER_THREADS=${WORKER_THREADS:-$("$top/frontend/namaskahd" --help | sed -n 's/^ *WORKER_THREADS (default "\([0-9]*\)").*/\1/p')})"
        start defaults || exit 0
    else
        echo "peer: the connection model before the edge work (WORKER_THREADS=32)"
        start peer WORKER_THREADS=32 || exit 0
    fi
    keepalive512
    idle200
    if [ $config = defaults ]; then
        slow slow_headers -H "$SLOW"
        slow slow_body -B "$SLOW"
        rss_1000
        soak
    else
        # the peer is starved within seconds: a short run shows it
        slow slow_headers -H 20
        slow slow_body -B 20
    fi
    stop
done
exit 0
