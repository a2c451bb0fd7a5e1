#!/usr/bin/env bash
# ratelimit_bench.sh — rate-limit micro-benchmark, one backend.
#
# For each algorithm, on keys spread over 10 000 keys of a policy that never
# denies: (1) checks/s inside one statement (the function's own cost: policy
# lookup, row lock, arithmetic, update), (2) checks/s from one pgbench client
# with one check per transaction (-M prepared; adds the round trip and the
# commit). Then peeks/s the same two ways.
#
# Then the pipeline-shaped comparison (issue 4): 32 pgbench clients running
# transactions shaped like a request -- BEGIN; peek; if allowed: a small
# query (the endpoint) and the consuming check; an audit-like INSERT into a
# logged scratch table (so every commit flushes WAL, as the real audit row
# does); COMMIT -- on (a) keys spread over 1000 users, (b) ONE hot key that
# is allowed (its state split over the default 16 slots), (c) one key already
# over its limit (the peek rejects; the audit row is still written), and for
# reference (b1) the hot key with a single slot (the unsplit behaviour).
# Prints the tps and the ratios hot/spread (target >= 0.5) and over/spread
# (target >= 1).
#
# Connection from PGHOST/PGPORT/PGUSER/PGDATABASE (a superuser). Prints
# figures; exits non-zero only if a step fails.
set -uo pipefail

N=${RL_BENCH_CHECKS:-50000}
KEYS=${RL_BENCH_KEYS:-10000}
SECS=${RL_BENCH_SECONDS:-5}
PIPE_CLIENTS=${RL_BENCH_CLIENTS:-32}
PIPE_SECS=${RL_BENCH_PIPELINE_SECONDS:-10}
work=$(mktemp -d /tmp/ratelimit_bench.XXXXXX)
psql_q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
cleanup() {
    psql_q -c "DELETE FROM namaskah.rate_limit_policies WHERE name LIKE 'bench_%'" \
        -c "DROP TABLE IF EXISTS public.ratelimit_bench_audit" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

psql_q -c "DELETE FROM namaskah.rate_limit_policies WHERE name LIKE 'bench_%'" \
    -c "INSERT INTO namaskah.rate_limit_policies (name, algorithm, \"limit\", window_seconds, scope)
        SELECT 'bench_' || a, a, 2000000000, 3600, 'client'
        FROM unnest(ARRAY['fixed_window', 'sliding_window', 'token_bucket', 'gcra']) a" || exit 1

# Calls per second of fn over N calls spread on KEYS keys, in one statement.
in_backend() { # fn policy
    psql_q -c "SET client_min_messages = notice" -c "
DO \$\$
DECLARE t0 timestamptz; n bigint;
BEGIN
    t0 := clock_timestamp();
    SELECT count(*) INTO n FROM generate_series(1, $N) g,
        LATERAL namaskah.$1('$2', 'k' || (g % $KEYS)) r;
    RAISE NOTICE '%', round(n / extract(epoch FROM clock_timestamp() - t0));
END
\$\$" 2>&1 | sed -n 's/^NOTICE:  //p'
}

# Transactions per second of one pgbench client calling fn once per xact.
one_client() { # fn policy
    printf '\\set k random(0, %d)\nSELECT * FROM namaskah.%s(%s, %s);\n' \
        "$((KEYS - 1))" "$1" "'$2'" "'k' || :k" >"$work/$1.sql"
    pgbench -n -M prepared -c 1 -T "$SECS" -f "$work/$1.sql" 2>&1 |
        sed -n 's/^tps = \([0-9]*\).*/\1/p'
}

printf '%-16s %14s %14s\n' "algorithm" "check/s stmt" "check/s 1 cli"
for alg in fixed_window sliding_window token_bucket gcra; do
    # create the keys first, so the figures are for existing keys
    in_backend rate_limit_check "bench_$alg" >/dev/null
    printf '%-16s %14s %14s\n' "$alg" "$(in_backend rate_limit_check "bench_$alg")" \
        "$(one_client rate_limit_check "bench_$alg")"
done
printf '%-16s %14s %14s\n' "peek (fixed)" "$(in_backend rate_limit_peek bench_fixed_window)" \
    "$(one_client rate_limit_peek bench_fixed_window)"
echo "(check/s stmt: $N calls in one statement over $KEYS keys; check/s 1 cli: one pgbench client, one call per transaction, ${SECS}s)"

# --- pipeline-shaped: spread / hot / over-limit, 32 clients -------------------
psql_q -c "SET client_min_messages = warning" \
    -c "DROP TABLE IF EXISTS public.ratelimit_bench_audit" \
    -c "CREATE TABLE public.ratelimit_bench_audit (id bigserial PRIMARY KEY,
          at timestamptz NOT NULL DEFAULT now(), key text NOT NULL, allowed boolean NOT NULL)" \
    -c "INSERT INTO namaskah.rate_limit_policies (name, algorithm, \"limit\", window_seconds, scope, slots)
        VALUES ('bench_pipe', 'fixed_window', 2000000000, 3600, 'user', 16),
               ('bench_pipe_one', 'fixed_window', 2000000000, 3600, 'user', 1),
               ('bench_pipe_over', 'fixed_window', 1, 3600, 'user', 16)" \
    -c "SELECT namaskah.rate_limit_check('bench_pipe_over', 'u1')" >/dev/null || exit 1

cat >"$work/pipeline.sql" <<'EOF'
\set u random(1, :nkeys)
BEGIN;
SELECT (namaskah.rate_limit_peek(':policy', 'u' || :u)).allowed::int AS ok \gset
\if :ok
SELECT count(*) FROM pg_catalog.pg_class WHERE relname = 'pg_proc';
SELECT (namaskah.rate_limit_check(':policy', 'u' || :u)).allowed::int AS ok \gset
\endif
INSERT INTO public.ratelimit_bench_audit (key, allowed) VALUES ('u' || :u, :ok = 1);
COMMIT;
EOF

# tps of the pipeline-shaped transaction on `nkeys` keys of `policy`.
pipeline_tps() { # policy nkeys
    pgbench -n -c "$PIPE_CLIENTS" -j 4 -T "$PIPE_SECS" -D policy="$1" -D nkeys="$2" \
        -f "$work/pipeline.sql" 2>&1 | sed -n 's/^tps = \([0-9]*\).*/\1/p'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
echo "pipeline-shaped, $PIPE_CLIENTS clients, ${PIPE_SECS}s each (peek, query, check, audit insert, commit):"
spread=$(pipeline_tps bench_pipe 1000)
hot=$(pipeline_tps bench_pipe 1)
over=$(pipeline_tps bench_pipe_over 1)
hot_one=$(pipeline_tps bench_pipe_one 1)
slots=$(psql_q -c "SELECT namaskah.rate_limit_slots('fixed_window', 2000000000, NULL, 16)")
printf '%-46s %8s\n' "(a) keys spread over 1000 users" "$spread" \
    "(b) one hot allowed key, $slots slots" "$hot" \
    "(c) one key already over its limit" "$over" \
    "(b1) one hot allowed key, 1 slot (reference)" "$hot_one"
echo "ratio hot/spread  = $(ratio "$hot" "$spread") (target >= 0.5; with 1 slot: $(ratio "$hot_one" "$spread"))"
echo "ratio over/spread = $(ratio "$over" "$spread") (target >= 1)"
