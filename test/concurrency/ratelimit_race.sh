#!/usr/bin/env bash
# ratelimit_race.sh — rate limiting is exact under real concurrency.
#
# For each algorithm, 32 pgbench clients hammer ONE key of a policy with
# limit 500 (a window so long that nothing refills during the run), once with
# the key's state split over 16 slots (the default: concurrent checks lock
# different rows), once with a single slot (every check on the row) and once
# split with requests of cost 3 (slots of 31 or 32 units end with 1 or 2
# units that only a check taking from several slots can use), in
# explicit transactions shaped like the request pipeline: peek (no lock) ->
# some work -> check (row lock) -> record the answer -> COMMIT, and one
# transaction in ten rolls back at the end (an aborted request gives its unit
# back). The number of allowed answers that committed must be exactly 500
# (166 of cost 3, 498 units) and the stored state must agree (summed over the
# slots). Connection from PGHOST/PGPORT/PGUSER/
# PGDATABASE (a superuser: the functions are granted to nobody). Prints
# "N passed, N failed"; exits non-zero on failure.
set -uo pipefail

CLIENTS=${RACE_CLIENTS:-32}
TX_PER_CLIENT=${RACE_TX:-40}
LIMIT=500
work=$(mktemp -d /tmp/ratelimit_race.XXXXXX)
passed=0
failed=0

psql_q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
check() { # description, got, want
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1))
        echo "ok: $1 ($2)"
    else
        failed=$((failed + 1))
        echo "FAIL: $1: got '$2', want '$3'"
    fi
}
cleanup() {
    psql_q -c "DELETE FROM namaskah.rate_limit_policies WHERE name LIKE 'race_%'" \
        -c "DROP TABLE IF EXISTS public.ratelimit_race_log" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/race.sql" <<'EOF'
\set r random(1, 10)
BEGIN;
SELECT (namaskah.rate_limit_peek(':policy', 'hot')).allowed::int AS peek_ok \gset
\if :peek_ok
SELECT pg_sleep(0.001);
SELECT (namaskah.rate_limit_check(':policy', 'hot')).allowed::int AS ok \gset
INSERT INTO public.ratelimit_race_log (policy, allowed) VALUES (':policy', :ok = 1);
\endif
\if :r = 1
ROLLBACK;
\else
COMMIT;
\endif
EOF

if ! psql_q -c "SET client_min_messages = warning" \
    -c "DELETE FROM namaskah.rate_limit_policies WHERE name LIKE 'race_%'" \
    -c "DROP TABLE IF EXISTS public.ratelimit_race_log" \
    -c "CREATE TABLE public.ratelimit_race_log (policy text NOT NULL, allowed boolean NOT NULL)" \
    -c "INSERT INTO namaskah.rate_limit_policies (name, algorithm, \"limit\", window_seconds, scope)
        SELECT 'race_' || a, a, $LIMIT, 1000000000, 'global'
        FROM unnest(ARRAY['fixed_window', 'sliding_window', 'token_bucket', 'gcra']) a" \
    -c "INSERT INTO namaskah.rate_limit_policies (name, algorithm, \"limit\", window_seconds, scope, slots)
        SELECT 'race_one_' || a, a, $LIMIT, 1000000000, 'global', 1
        FROM unnest(ARRAY['fixed_window', 'sliding_window', 'token_bucket', 'gcra']) a" \
    -c "INSERT INTO namaskah.rate_limit_policies (name, algorithm, \"limit\", window_seconds, scope, cost)
        SELECT 'race_cost3_' || a, a, $LIMIT, 1000000000, 'global', 3
        FROM unnest(ARRAY['fixed_window', 'sliding_window', 'token_bucket', 'gcra']) a"; then
    echo "0 passed, 1 failed"
    exit 1
fi

for policy in race_fixed_window race_sliding_window race_token_bucket race_gcra \
    race_one_fixed_window race_one_sliding_window race_one_token_bucket race_one_gcra \
    race_cost3_fixed_window race_cost3_sliding_window race_cost3_token_bucket race_cost3_gcra; do
    alg=${policy#race_}
    alg=${alg#one_}
    alg=${alg#cost3_}
    cost=1
    case $policy in race_cost3_*) cost=3 ;; esac
    want_n=$((LIMIT / cost))
    want_units=$((want_n * cost))
    slots=$(psql_q -c "SELECT namaskah.rate_limit_slots(algorithm, \"limit\", burst, slots) FROM namaskah.rate_limit_policies WHERE name = '$policy'")
    if pgbench -n -c "$CLIENTS" -j 8 -t "$TX_PER_CLIENT" -D policy="$policy" \
        -f "$work/race.sql" >"$work/$policy.log" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: pgbench for $policy:"
        tail -5 "$work/$policy.log"
    fi
    allowed=$(psql_q -c "SELECT count(*) FILTER (WHERE allowed) FROM public.ratelimit_race_log WHERE policy = '$policy'")
    denied=$(psql_q -c "SELECT count(*) FILTER (WHERE NOT allowed) FROM public.ratelimit_race_log WHERE policy = '$policy'")
    check "$policy ($slots slots): committed allowed answers on one key ($denied denied checks)" "$allowed" "$want_n"
    # The state agrees: the windows count the units allowed, the buckets
    # hold what is left (less than one request's cost).
    case $alg in
    fixed_window | sliding_window) want=$want_units
        got=$(psql_q -c "SELECT sum(n) FROM namaskah.rate_limit_state WHERE policy = '$policy' AND key = 'hot'") ;;
    token_bucket) want=$((LIMIT - want_units))
        got=$(psql_q -c "SELECT sum(n)::bigint / 1000000 FROM namaskah.rate_limit_state WHERE policy = '$policy' AND key = 'hot'") ;;
    gcra) want=f
        got=$(psql_q -c "SELECT (namaskah.rate_limit_peek('$policy', 'hot')).allowed") ;;
    esac
    check "$policy: stored state after the race" "$got" "$want"
    # Every slot served requests (with 16 slots, each holds 31 or 32 units).
    got=$(psql_q -c "SELECT count(DISTINCT slot) FROM namaskah.rate_limit_state WHERE policy = '$policy' AND key = 'hot'")
    check "$policy: slots used" "$got" "$slots"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
