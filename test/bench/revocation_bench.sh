#!/usr/bin/env bash
# revocation_bench.sh — what revocations cost everyone else's token checks.
#
# 8 clients verify warm tokens (namaskah.jwt_verify_strict over 1000 tokens
# of 200 users, picked at random, as an API sees them) with pgbench
# -M prepared, first alone, then while one more client revokes other tokens
# REVOCATION_BENCH_RATE times a second (default 20: a busy logout rate). It
# prints both rates and their ratio, measured side by side in one run; the
# target is >= 0.8: a revocation should cost each backend a reload of the
# revocation set it changed, not of the signing keys, the settings and the
# verified-payload memory (before issue 16's review it cost all three).
#
# Connection: PGHOST, PGPORT, PGUSER, PGDATABASE from the environment (make
# bench's database: signing key installed). Leaves nothing behind: the
# token table is dropped and the revocations it made are deleted.
# REVOCATION_BENCH_SECONDS sets each run's length (default 10). Exit status
# 0 when it ran (the target is reported, not enforced).
set -eu

case "${1:-}" in
-h | --help)
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

SECONDS_EACH=${REVOCATION_BENCH_SECONDS:-10}
RATE=${REVOCATION_BENCH_RATE:-20}
for v in "$SECONDS_EACH" "$RATE"; do
    case "$v" in '' | *[!0-9]*) echo "revocation_bench: REVOCATION_BENCH_SECONDS and _RATE must be numbers" >&2; exit 2 ;; esac
done
work=$(mktemp -d /tmp/nk-revbench.XXXXXX)
q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
cleanup() {
    q "DROP TABLE IF EXISTS public.bench_tokens; DELETE FROM namaskah.revoked_tokens WHERE jti LIKE 'revbench-%'" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

q "DROP TABLE IF EXISTS public.bench_tokens;
   CREATE TABLE public.bench_tokens AS
       SELECT g AS id, namaskah.jwt_issue(jsonb_build_object('sub', 'user-' || (g % 200), 'role', 'user')) AS t
       FROM generate_series(1, 1000) g;
   ALTER TABLE public.bench_tokens ADD PRIMARY KEY (id);"
cat >"$work/verify.sql" <<'SQL'
\set i random(1, 1000)
SELECT (namaskah.jwt_verify_strict(t)).valid FROM public.bench_tokens WHERE id = :i;
SQL
cat >"$work/revoke.sql" <<'SQL'
\set r random(1, 1000000000)
SELECT namaskah.revoke_token('revbench-' || :r, now() + interval '1 hour');
SQL

verify_tps() { # label
    pgbench -n -M prepared -c 8 -j 2 -T "$SECONDS_EACH" -f "$work/verify.sql" >"$work/$1.out" 2>&1
    awk '/^tps = / {printf "%.0f", $3; exit}' "$work/$1.out"
}
alone=$(verify_tps alone)
pgbench -n -M prepared -c 1 -R "$RATE" -T "$((SECONDS_EACH + 2))" -f "$work/revoke.sql" >"$work/revoker.out" 2>&1 &
revoker=$!
sleep 1
busy=$(verify_tps busy)
wait "$revoker" || true
revoked=$(awk '/number of transactions actually processed/ {print $NF}' "$work/revoker.out" | cut -d/ -f1)
printf '%-44s %10s\n' "verify, 8 clients, alone (tps)" "$alone"
printf '%-44s %10s\n' "verify, 8 clients, ${RATE} revocations/s (tps)" "$busy"
printf '%-44s %10s\n' "revocations made meanwhile" "${revoked:-?}"
awk -v a="$alone" -v b="$busy" 'BEGIN {if (a > 0) printf "%-44s %10.2f  (target >= 0.80)\n", "ratio busy/alone", b / a}'
