#!/usr/bin/env bash
# audit_bench.sh — does appending to the audit log slow down as it grows?
#
# 4 clients call namaskah.audit_append (what every request does) with
# pgbench -M prepared, first with the log as it is, then after
# AUDIT_BENCH_ROWS records (default 2 000 000) were added to 20 past days'
# partitions, and prints both rates and their ratio, measured side by side
# in one run (and once more after they were dropped again; the ratio is
# against the mean of the two runs without); the target is >= 0.9: an append touches only today's
# partition and its indexes (partition pruning), whatever the past holds.
# The issue's figure is 50 million rows (about 25 GB with indexes); the
# default is scaled down 25x so the run fits in a few minutes on a shared
# 2-core machine: set AUDIT_BENCH_ROWS=50000000 where the disk allows. What
# grows with the log is the number and size of past partitions, not today's.
#
# Connection: PGHOST, PGPORT, PGUSER (a superuser), PGDATABASE from the
# environment (make bench's database). The past days are in 2001, filler
# records that are not chained; they are detached and dropped at the end
# (a benchmark's own rows; never do this to real records: scripts/archive_audit).
# AUDIT_BENCH_SECONDS sets each run's length (default 10). Exit status 0
# when it ran (the target is reported, not enforced).
set -eu

case "${1:-}" in
-h | --help)
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

SECONDS_EACH=${AUDIT_BENCH_SECONDS:-10}
ROWS=${AUDIT_BENCH_ROWS:-2000000}
for v in "$SECONDS_EACH" "$ROWS"; do
    case "$v" in '' | *[!0-9]*) echo "audit_bench: AUDIT_BENCH_SECONDS and AUDIT_BENCH_ROWS must be numbers" >&2; exit 2 ;; esac
done
q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
script=$(mktemp)
drop_filler() {
    q "DO \$\$ DECLARE t text; BEGIN
         FOR t IN SELECT partition FROM namaskah.audit_partitions() WHERE range_from < '2002-01-01' LOOP
             EXECUTE format('ALTER TABLE namaskah.audit_log DETACH PARTITION namaskah_audit.%I', t);
             EXECUTE format('DROP TABLE namaskah_audit.%I', t);
         END LOOP; END \$\$" >/dev/null 2>&1 || true
}
cleanup() {
    rm -f "$script"
    drop_filler
}
trap cleanup EXIT
# (no colon in the SQL but the variable's: pgbench reads ':x' as one)
echo "SELECT namaskah.audit_append('bench-' || :client_id, 'bench', 'GET', '/api/version', 200, 'ok', 1, jsonb_build_object('path', '/api/version'));" >"$script"

run() { # each after a checkpoint: the same full-page writes for all three
    q "CHECKPOINT" >/dev/null
    pgbench -n -M prepared -c 4 -j 2 -T "$SECONDS_EACH" -f "$script" 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

before_rows=$(q "SELECT count(*) FROM namaskah.audit_log")
empty=$(run)
start=$(date +%s)
q "SELECT count(namaskah.audit_partitions_ensure(d, d))
   FROM generate_series(timestamptz '2001-01-01 00:00+00', timestamptz '2001-01-20 00:00+00', interval '1 day') d" >/dev/null
q "INSERT INTO namaskah.audit_log (id, chain_id, seq, logged_at, request_id, actor, method, route,
       status, outcome, duration_ms, details, prev_hash, hash)
   SELECT nextval('namaskah.audit_log_id_seq'), c, g, timestamptz '2001-01-01 00:00+00' + (g % 20) * interval '1 day'
              + (g / 20) * interval '1 ms', 'filler-' || g, 'client:filler', 'GET', '/api/version', 200, 'ok', 1,
          '{\"path\": \"/api/version\"}', '\\x00', sha256(int8send(g))
   FROM generate_series(1, $ROWS) g, (SELECT gen_random_uuid() AS c) c" >/dev/null
# the filler's own after-effects (writing it out, vacuum) are not measured
q "VACUUM (ANALYZE) namaskah.audit_log" >/dev/null
filled_in=$(($(date +%s) - start))
after_rows=$(q "SELECT count(*) FROM namaskah.audit_log")
full=$(run)
# and once more without them (detached: the same database, warmed the
# same), so that drift on a shared machine shows as a difference between
# the two runs without
drop_filler
again=$(run)
printf 'audit append, 4 clients: %s appends/s with %s records, %s/s with %s records (%s added in %ss), %s/s with them dropped again | ratio %s (target >= 0.9)\n' \
    "$empty" "$before_rows" "$full" "$after_rows" "$ROWS" "$filled_in" "$again" \
    "$(awk -v a="$full" -v b="$empty" -v c="$again" 'BEGIN { if (b + c > 0) printf "%.2f", 2 * a / (b + c); else print "n/a" }')"
