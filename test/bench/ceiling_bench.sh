#!/usr/bin/env bash
# ceiling_bench.sh — the entry function next to a naive ceiling.
#
# The ceiling is one PL/pgSQL function doing what a request must do at the
# least: an INSERT ... ON CONFLICT DO UPDATE on an UNLOGGED counter keyed by
# user (fixed 60 s window), a primary-key lookup of the user row, an INSERT
# of one audit row (bigserial id, jsonb detail) into a logged table, and
# json back. With pgbench -M prepared, in the same run, at 1, 8 and 32
# clients, it runs next to namaskah.handle_request for: GET /api/auth/me
# with tokens of 1000 users, GET /api/version, a rejected token, and a key
# over its limit (every request 429). Prints tps (mean latency at 1 client)
# and each one's ratio to the ceiling at the same client count, then the
# targets of issue 14, and where the entry function's time goes (a function-level
# profile of one client).
#
# The bench users and policies: test/bench/fixtures.sql (shared with
# scenarios_auth.sh). Connection:
# PGHOST, PGPORT, PGUSER, PGDATABASE (a superuser). Leaves the ceiling's
# tables in public (dropped at the start of the next run).
set -uo pipefail

SECS=${CEILING_SECONDS:-5}
CLIENTS=${CEILING_CLIENTS:-"1 8 32"}
work=$(mktemp -d /tmp/ceiling_bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
psql_q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

psql_q -f "$(dirname "$0")/fixtures.sql" || exit 1
psql_q <<'SQL' || exit 1
-- a rejected token is the 401 path, not the 429 of auth_failures
UPDATE namaskah.rate_limit_policies SET "limit" = 1000000000 WHERE name = 'auth_failures';
DROP TABLE IF EXISTS public.ceiling_users, public.ceiling_counter, public.ceiling_audit, public.ceiling_tokens;
DROP FUNCTION IF EXISTS public.ceiling_request(int);
CREATE TABLE public.ceiling_users AS
SELECT row_number() OVER (ORDER BY email)::int AS i, id, email, role, created_at
FROM namaskah.users WHERE email LIKE 'bench%@example.test';
ALTER TABLE public.ceiling_users ADD PRIMARY KEY (i);
CREATE UNLOGGED TABLE public.ceiling_counter (
    user_id uuid, window_start timestamptz, n int NOT NULL,
    PRIMARY KEY (user_id, window_start));
CREATE TABLE public.ceiling_audit (id bigserial PRIMARY KEY, user_id uuid,
    logged_at timestamptz NOT NULL DEFAULT clock_timestamp(), detail jsonb);
CREATE FUNCTION public.ceiling_request(i int) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    u public.ceiling_users;
    used int;
BEGIN
    SELECT * INTO u FROM public.ceiling_users WHERE ceiling_users.i = ceiling_request.i;
    INSERT INTO public.ceiling_counter VALUES (u.id, date_trunc('minute', now()), 1)
    ON CONFLICT (user_id, window_start) DO UPDATE SET n = ceiling_counter.n + 1
    RETURNING n INTO used;
    INSERT INTO public.ceiling_audit (user_id, detail)
    VALUES (u.id, jsonb_build_object('route', '/api/auth/me', 'status', 200, 'used', used));
    RETURN json_build_object('id', u.id, 'email', u.email, 'role', u.role,
                             'created_at', u.created_at);
END
$$;
CREATE TABLE public.ceiling_tokens AS
SELECT c.i, (namaskah.issue_access_token(c.id)).access_token AS token
FROM public.ceiling_users c;
ALTER TABLE public.ceiling_tokens ADD PRIMARY KEY (i);
GRANT SELECT ON public.ceiling_tokens TO PUBLIC;
SQL
n=$(psql_q -c "SELECT count(*) FROM public.ceiling_users")
tight=$(psql_q -c "SELECT (namaskah.issue_access_token(id)).access_token FROM public.ceiling_users WHERE i = $n")
psql_q -c "SELECT status FROM namaskah.handle_request('GET', '/api/bench/me', '', jsonb_build_object('authorization', 'Bearer $tight'), NULL, '127.0.0.1', 'ceiling')" >/dev/null

cat >"$work/ceiling.sql" <<SQL
\set i random(1, $n)
SELECT public.ceiling_request(:i);
SQL
cat >"$work/auth_me.sql" <<SQL
\set i random(1, $n)
SELECT r.status, r.headers::text, r.body FROM public.ceiling_tokens t, namaskah.handle_request('GET', '/api/auth/me', '', jsonb_build_object('authorization', 'Bearer ' || t.token), NULL, '127.0.0.1'::inet, 'ceiling') r WHERE t.i = :i;
SQL
cat >"$work/version.sql" <<'SQL'
SELECT status, headers::text, body FROM namaskah.handle_request('GET', '/api/version', '', '{}'::jsonb, NULL, '127.0.0.1'::inet, 'ceiling');
SQL
cat >"$work/rejected.sql" <<'SQL'
SELECT status, headers::text, body FROM namaskah.handle_request('GET', '/api/auth/me', '', '{"authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW5vdC12YWxpZC1hdC1hbGwteHh4eHh4"}'::jsonb, NULL, '127.0.0.1'::inet, 'ceiling');
SQL
cat >"$work/over_limit.sql" <<SQL
SELECT status, headers::text, body FROM namaskah.handle_request('GET', '/api/bench/me', '', jsonb_build_object('authorization', 'Bearer $tight'), NULL, '127.0.0.1'::inet, 'ceiling');
SQL

# "tps mean_latency_ms" of one pgbench run
run() { # script clients
    pgbench -n -M prepared -c "$2" -j "$(($2 < 2 ? 1 : 2))" -T "$SECS" -f "$work/$1.sql" 2>&1 |
        awk '/^tps = / {tps = $3} /^latency average/ {lat = $4} END {printf "%.0f %.3f\n", tps, lat}'
}

declare -A tps lat
for c in $CLIENTS; do
    for w in ceiling auth_me version rejected over_limit; do
        read -r t l < <(run "$w" "$c")
        tps[$w,$c]=$t
        lat[$w,$c]=$l
    done
done
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN {if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a"}'; }
printf '%-12s' "clients"
for c in $CLIENTS; do printf ' | %7s tps  ratio' "$c"; done
echo
for w in ceiling auth_me version rejected over_limit; do
    printf '%-12s' "$w"
    for c in $CLIENTS; do printf ' | %11s  %5s' "${tps[$w,$c]}" "$(ratio "${tps[$w,$c]}" "${tps[ceiling,$c]}")"; done
    echo
done
echo "1-client mean latency (ms): ceiling ${lat[ceiling,1]:-n/a}, auth_me ${lat[auth_me,1]:-n/a}, version ${lat[version,1]:-n/a}"
echo "targets (same run): auth_me/ceiling at 8 clients >= 0.6: $(ratio "${tps[auth_me,8]:-}" "${tps[ceiling,8]:-}");" \
    "version/ceiling at 8 >= 0.7: $(ratio "${tps[version,8]:-}" "${tps[ceiling,8]:-}");" \
    "auth_me 1-client latency <= 2x ceiling's: $(ratio "${lat[auth_me,1]:-}" "${lat[ceiling,1]:-}")x"

# Where the entry function's time goes: one client, every function timed
# (track_functions = all, which itself adds a little to each call); each
# function's own time (callees excluded) per request, for the two paths of
# the targets.
profile() { # script
    psql_q -c "SELECT pg_stat_reset()" >/dev/null
    PGOPTIONS="-c track_functions=all" pgbench -n -M prepared -c 1 -T "$SECS" \
        -f "$work/$1.sql" >/dev/null 2>&1
    sleep 1 # the backend's counters reach the shared statistics as it exits
    psql_q -F ' ' <<'PROFILE'
WITH f AS (SELECT schemaname || '.' || funcname AS fn, calls, self_time, total_time
           FROM pg_stat_user_functions),
     req AS (SELECT calls, total_time FROM f WHERE fn = 'namaskah.handle_request')
SELECT format('  %-40s %6s us  %3s%%', f.fn, round((f.self_time * 1000 / req.calls)::numeric, 1),
              round((100 * f.self_time / req.total_time)::numeric))
FROM f, req WHERE req.calls > 0 ORDER BY f.self_time DESC LIMIT 12;
PROFILE
}
for w in version auth_me; do
    echo "$w at 1 client, own time per request of the busiest functions (share of handle_request's):"
    profile "$w"
done

