#!/usr/bin/env bash
# ratelimit_bench.sh — rate-limit micro-benchmark, one backend.
#
# For each algorithm, on keys spread over 10 000 keys of a policy that never
# denies: (1) checks/s inside one statement (the function's own cost: policy
# lookup, row lock, arithmetic, update), (2) checks/s from one pgbench client
# with one check per transaction (-M prepared; adds the round trip and the
# commit). Then peeks/s the same two ways. Connection from PGHOST/PGPORT/
# PGUSER/PGDATABASE (a superuser). Prints figures; exits non-zero only if a
# step fails.
set -uo pipefail

N=${RL_BENCH_CHECKS:-50000}
KEYS=${RL_BENCH_KEYS:-10000}
SECS=${RL_BENCH_SECONDS:-5}
work=$(mktemp -d /tmp/ratelimit_bench.XXXXXX)
psql_q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
cleanup() {
    psql_q -c "DELETE FROM namaskah.rate_limit_policies WHERE name LIKE 'bench_%'" >/dev/null 2>&1
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
