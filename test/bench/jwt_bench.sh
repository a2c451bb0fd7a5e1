#!/bin/sh
# jwt_bench.sh — JWT sign/verify throughput in ONE backend, next to the raw
# HMAC-SHA256 rate of this machine (openssl speed, 256-byte messages).
#
# Measures namaskah.sign / namaskah.verify (pgjwt-compatible) and
# namaskah.jwt_issue / namaskah.jwt_verify_strict (strict pipeline path:
# key cache, signature, claims, revocation), each over a
# precomputed set of inputs so that only the function is timed, plus the
# per-row cost of the bare scan for reference. Strict verification is timed
# twice: "cold" (every token new to the backend: payload decode and scan
# and revocation lookups each time) and "warm" (1000 tokens of 200 users
# verified over and over, as an API sees them).
#
# verify is a TABLE function, jwt_verify_strict returns one composite
# value. Each is timed called in FROM
# (LATERAL, one function scan per token: the executor builds and drops a
# tuplestore for every call, about 0.5 us here, whatever the function does)
# and called in a target list (SELECT f(t) ... : the function's own cost).
#
# Connection: PGHOST, PGPORT, PGUSER, PGDATABASE from the environment; the
# database must have CREATE EXTENSION namaskah. Everything runs in one
# transaction that is rolled back (a throwaway signing key, temp tables),
# so nothing is left behind. JWT_BENCH_N sets the operations per figure
# (default 100000).
#
# Exit status: 0 when the bench ran (the target is reported, not enforced),
# non-zero on any error.
set -eu

case "${1:-}" in
-h | --help)
    sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

N=${JWT_BENCH_N:-100000}
case "$N" in
'' | *[!0-9]*)
    echo "jwt_bench: JWT_BENCH_N must be a number" >&2
    exit 2
    ;;
esac

# Raw HMAC-SHA256 over 256-byte messages; OpenSSL 1.1/3.0 spell it -hmac,
# later 3.x releases also accept -mac HMAC -digest.
raw_line=$( (openssl speed -seconds 3 -bytes 256 -hmac sha256 2>/dev/null ||
    openssl speed -seconds 3 -bytes 256 -mac HMAC -digest sha256 2>/dev/null) |
    grep -i '^hmac' | tail -1)
raw_kbytes=$(echo "$raw_line" | awk '{ v = $NF; sub(/k$/, "", v); print v }')
if [ -z "$raw_kbytes" ]; then
    echo "jwt_bench: could not read the figure of openssl speed" >&2
    exit 1
fi
raw=$(awk -v k="$raw_kbytes" 'BEGIN { printf "%.0f", k * 1000 / 256 }')

secret=$(openssl rand -base64 48 | tr -d '\n=')

out=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -v n="$N" -v secret="$secret" <<'SQL'
-- Room for the inputs in memory (before the session's first temp table),
-- so the figures are the functions', not temp-file reads.
SET temp_buffers = '256MB';
BEGIN;
SET LOCAL client_min_messages = warning;
-- JIT compiles these bulk queries; the per-call cost is what is measured.
SET LOCAL jit = off;
-- A throwaway key, newest of all, so jwt_issue signs with it.
SELECT namaskah.install_signing_key(:'secret') IS NOT NULL;

CREATE TEMP TABLE b_claims ON COMMIT DROP AS
    SELECT jsonb_build_object('sub', 'user-' || (g % 200), 'role', 'user') AS c
    FROM generate_series(1, :n) g;
CREATE TEMP TABLE b_payloads ON COMMIT DROP AS
    SELECT json_build_object('sub', 'user-' || (g % 200), 'role', 'user',
                             'exp', 4000000000) AS p
    FROM generate_series(1, :n) g;
CREATE TEMP TABLE b_pgjwt ON COMMIT DROP AS
    SELECT namaskah.sign(p, :'secret') AS t FROM b_payloads;
CREATE TEMP TABLE b_tokens ON COMMIT DROP AS
    SELECT namaskah.jwt_issue(c) AS t FROM b_claims;
CREATE TEMP TABLE b_tokens2 ON COMMIT DROP AS
    SELECT namaskah.jwt_issue(c) AS t FROM b_claims;
CREATE TEMP TABLE b_warm ON COMMIT DROP AS
    SELECT t FROM b_tokens LIMIT 1000;

-- rate(query, expected count): "cpu wall" operations per second of one
-- query: per second of this backend's CPU time (from /proc/self/schedstat,
-- as openssl speed counts its user CPU time; "-" when unreadable) and per
-- second of wall-clock time (lower when other jobs share the machine).
CREATE FUNCTION pg_temp.cpu_ns() RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN
    RETURN split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::numeric;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;
CREATE FUNCTION pg_temp.rate(q text, expect bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    c0 numeric := pg_temp.cpu_ns();
    t0 timestamptz := clock_timestamp();
    c bigint;
    wall numeric;
    cpu numeric;
BEGIN
    EXECUTE q INTO c;
    wall := extract(epoch FROM clock_timestamp() - t0);
    cpu := (pg_temp.cpu_ns() - c0) / 1e9;
    IF c IS DISTINCT FROM expect THEN
        RAISE EXCEPTION 'bench query counted % of % operations', c, expect;
    END IF;
    RETURN coalesce(round(expect / nullif(cpu, 0))::text, '-') || ' ' || round(expect / wall);
END
$$;

SELECT 'token_bytes', round(avg(length(t))) FROM b_tokens;
SELECT 'scan', pg_temp.rate('SELECT count(*) FROM b_tokens b, LATERAL (SELECT b.t IS NOT NULL AS ok) v WHERE v.ok', :n);
SELECT 'pgjwt_sign', pg_temp.rate(format('SELECT count(namaskah.sign(p, %L)) FROM b_payloads', :'secret'), :n);
SELECT 'pgjwt_verify', pg_temp.rate(format('SELECT count(*) FROM b_pgjwt b, LATERAL namaskah.verify(b.t, %L) v WHERE v.valid', :'secret'), :n);
SELECT 'jwt_issue', pg_temp.rate('SELECT count(namaskah.jwt_issue(c)) FROM b_claims', :n);
SELECT 'strict_cold', pg_temp.rate('SELECT count(*) FROM b_tokens b, LATERAL namaskah.jwt_verify_strict(b.t) v WHERE v.valid', :n);
-- (the CASE ties the call to g, so each pair is really verified)
SELECT 'strict_warm', pg_temp.rate(format('SELECT count(*) FROM generate_series(1, %s) g, b_warm b, LATERAL namaskah.jwt_verify_strict(CASE WHEN g > 0 THEN b.t END) v WHERE v.valid', :n / 1000), (:n / 1000) * 1000);
-- the same, called in a target list (b_tokens2: tokens this backend never saw)
SELECT 'pgjwt_verify_tl', pg_temp.rate(format('SELECT count(*) FROM (SELECT namaskah.verify(b.t, %L) AS v FROM b_pgjwt b) s WHERE (v).valid', :'secret'), :n);
SELECT 'strict_cold_tl', pg_temp.rate('SELECT count(*) FROM (SELECT namaskah.jwt_verify_strict(b.t) AS v FROM b_tokens2 b) s WHERE (v).valid', :n);
SELECT 'strict_warm_tl', pg_temp.rate(format('SELECT count(*) FROM (SELECT namaskah.jwt_verify_strict(CASE WHEN g > 0 THEN b.t END) AS v FROM generate_series(1, %s) g, b_warm b) s WHERE (v).valid', :n / 1000), (:n / 1000) * 1000);
ROLLBACK;
SQL
)

field() { echo "$out" | awk -F'|' -v k="$1" '$1 == k { print $2 }'; }
# val KEY: per CPU-second of the backend when measurable, else wall-clock;
# wall KEY: wall-clock.
val() {
    v=$(field "$1" | cut -d' ' -f1)
    [ "$v" = "-" ] && v=$(field "$1" | cut -d' ' -f2)
    echo "$v"
}
wall() { field "$1" | cut -d' ' -f2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }'; }

echo "JWT benchmark: one backend, $N operations per figure, tokens of $(field token_bytes) bytes"
if [ "$(field scan | cut -d' ' -f1)" = "-" ]; then
    echo "  (per second of wall-clock time: /proc/self/schedstat unreadable)"
else
    echo "  (per second of the backend's CPU time, as openssl speed counts; wall-clock in [ ])"
fi
printf '  %-38s %10s /s [%s]\n' "bare scan of the inputs (reference)" "$(val scan)" "$(wall scan)"
printf '  %-38s %10s /s [%s]\n' "namaskah.sign (pgjwt-compatible)" "$(val pgjwt_sign)" "$(wall pgjwt_sign)"
printf '  %-38s %10s /s [%s]\n' "namaskah.jwt_issue" "$(val jwt_issue)" "$(wall jwt_issue)"
printf '  %-38s %10s /s\n' "raw HMAC-SHA256, 256 B (openssl speed)" "$raw"
printf '  %-38s %12s %12s\n' "verify, per second (/ raw HMAC)" "in FROM" "target list"
row() { # label, key
    printf '  %-38s %9s (%s) %9s (%s)   [%s, %s]\n' "$1" "$(val "$2")" "$(ratio "$(val "$2")" "$raw")" \
        "$(val "$2"_tl)" "$(ratio "$(val "$2"_tl)" "$raw")" "$(wall "$2")" "$(wall "$2"_tl)"
}
row "namaskah.verify (pgjwt-compatible)" pgjwt_verify
row "namaskah.jwt_verify_strict, cold" strict_cold
row "namaskah.jwt_verify_strict, warm" strict_warm
echo "  target: verify >= 0.33 of raw HMAC"
