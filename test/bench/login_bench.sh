#!/bin/sh
# login_bench.sh — does a wrong password take as long for an unknown
# account as for an existing one? (Enumeration by timing.)
#
# Through the entry function (POST /api/auth/login) in ONE backend, 80
# wrong-password logins for an account that exists and 80 for a name that
# does not, interleaved in blocks of 40, from rotating client addresses
# (auth rate limits raised inside the transaction); prints the median and
# p90 of each and their ratio. Connection: PGHOST, PGPORT, PGUSER,
# PGDATABASE; the database must have CREATE EXTENSION namaskah and
# SECRET_KEY installed. Rolled back. Exit status 0 when it ran.
set -eu

case "${1:-}" in
-h | --help)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

psql -X -q -At -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
SET LOCAL client_min_messages = warning;
UPDATE namaskah.rate_limit_policies SET "limit" = 1000000000 WHERE name LIKE 'auth%';
SELECT FROM namaskah.create_user('login-bench@example.test', 'login bench password 1');
CREATE FUNCTION pg_temp.login_ms(email text, n int) RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE
    t timestamptz;
    ms float8[] := '{}';
    i int;
BEGIN
    FOR i IN 1..n LOOP
        t := clock_timestamp();
        PERFORM namaskah.handle_request('POST', '/api/auth/login', '',
            '{"content-type": "application/json"}',
            json_build_object('email', email, 'password', 'wrong password!')::text,
            ('198.51.100.' || (i % 200))::inet, 'login-bench');
        ms := ms || extract(epoch FROM clock_timestamp() - t) * 1000;
    END LOOP;
    RETURN ms;
END
$$;
CREATE TEMP TABLE runs AS
SELECT pg_temp.login_ms('login-bench@example.test', 40) AS e1,
       pg_temp.login_ms('login-bench-nobody@example.test', 40) AS u1,
       pg_temp.login_ms('login-bench@example.test', 40) AS e2,
       pg_temp.login_ms('login-bench-nobody@example.test', 40) AS u2;
WITH s AS (
    SELECT (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(e1 || e2) x) AS e50,
           (SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY x) FROM unnest(e1 || e2) x) AS e90,
           (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(u1 || u2) x) AS u50,
           (SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY x) FROM unnest(u1 || u2) x) AS u90
    FROM runs)
SELECT format('wrong password, existing account: median %s ms, p90 %s ms', round(e50::numeric, 2), round(e90::numeric, 2))
    || E'\n' || format('wrong password, unknown account:  median %s ms, p90 %s ms', round(u50::numeric, 2), round(u90::numeric, 2))
    || E'\n' || format('unknown / existing: median %s, p90 %s', round((u50 / e50)::numeric, 3), round((u90 / e90)::numeric, 3))
FROM s;
ROLLBACK;
SQL
