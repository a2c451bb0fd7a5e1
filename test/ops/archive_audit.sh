#!/usr/bin/env bash
# archive_audit.sh — archiving closed days of the partitioned audit log, end
# to end on a private cluster: records of one chain spread over two past days
# and today; the oldest day exported with its seal, verified offline, a
# tampered copy refused, dropped (itself audited); the chain verified from
# the seal onward; the next day archived with --after; refusals (not the
# oldest, still open, unknown name, a seal that no longer matches); a day
# dropped behind the archive's back is caught by audit_verify; a backup and
# restore keeps the partitioned log. Prints "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
work=$(mktemp -d /tmp/nk-archive.XXXXXX)
. test/ops/lib.inc
trap 'ops_cluster_stop; if [ "$failed" -eq 0 ] && [ -z "${KEEP_TEST_DIR:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi' EXIT
fails() { ! "$@"; }
arch() { scripts/archive_audit "$@" --database arch --dir "$work/exports" --env-file /dev/null; }

check "scripts/archive_audit --help" bash -c "scripts/archive_audit --help | grep -q usage"
ops_cluster_start || { fail "private cluster"; summary; exit 1; }
q postgres "CREATE DATABASE arch" >/dev/null
q arch "CREATE EXTENSION namaskah" >/dev/null

d1=$(date -u -d '3 days ago' +%Y-%m-%d) d2=$(date -u -d '2 days ago' +%Y-%m-%d)
p1=audit_log_${d1//-/} p2=audit_log_${d2//-/}
# One chain: seq 1-3 on day 1, 4-5 on day 2, 6 today (records written as
# audit_append writes them: same fields, same hash).
psql -X -q -v ON_ERROR_STOP=1 -d arch -v d1="$d1" -v d2="$d2" >/dev/null <<'SQL'
SELECT namaskah.audit_partitions_ensure(:'d1', :'d2');
SELECT set_config('my.d1', :'d1', false), set_config('my.d2', :'d2', false);
CREATE TEMP TABLE chain AS SELECT gen_random_uuid() AS id;
DO $$
DECLARE
    r namaskah.audit_log;
    prev bytea;
    c uuid := (SELECT id FROM chain);
    at timestamptz;
BEGIN
    prev := namaskah.audit_genesis(c);
    FOR i IN 1..6 LOOP
        at := CASE WHEN i <= 3 THEN current_setting('my.d1')::timestamptz + i * interval '1 hour'
                   WHEN i <= 5 THEN current_setting('my.d2')::timestamptz + i * interval '1 hour'
                   ELSE clock_timestamp() END;
        r := ROW(nextval('namaskah.audit_log_id_seq'), c, i, at, 'old-' || i, 'client:x', 'GET',
                 '/api/version', 200, 'ok', 1, jsonb_build_object('n', i, 'text', E'a\\b "q"\n'),
                 prev, NULL)::namaskah.audit_log;
        r.hash := namaskah.audit_hash(prev, namaskah.audit_fields(r));
        INSERT INTO namaskah.audit_log SELECT r.*;
        prev := r.hash;
    END LOOP;
END
$$;
SQL
check "records of past days in their partitions" test "$(q arch "SELECT count(DISTINCT tableoid) FROM namaskah.audit_log")" = 3
q arch "SELECT (namaskah.handle_request('GET', '/api/version', '', '{}', '', '127.0.0.1', 'live-' || g)).status FROM generate_series(1, 3) g" >/dev/null
q arch "SELECT namaskah.audit_seal()" >/dev/null
check "the log verifies across partitions" test "$(q arch "SELECT ok FROM namaskah.audit_verify()")" = t
check "list shows the oldest day archivable" bash -c "scripts/archive_audit list --database arch --env-file /dev/null | grep -q '^$p1 .* archivable'"

check "a day that is not the oldest is refused" fails arch export "$p2"
check "today is refused (still open)" fails arch export "audit_log_$(date -u +%Y%m%d)"
check "an unknown partition is refused" fails arch export audit_log_19990101
check "a bad partition name is refused" fails arch export "x; DROP TABLE y"

arch export "$p1" >"$work/export1.log" 2>&1
ex1=$work/exports/arch-$p1
check "export of the oldest day" test -s "$ex1/records.jsonl"
check "the export holds the day's 3 records" test "$(wc -l <"$ex1/records.jsonl")" = 3
check "the export verifies offline" scripts/audit_archive_verify "$ex1"
cp -r "$ex1" "$work/tampered"
sed -i 's/old-2/old-X/' "$work/tampered/records.jsonl"
check "a changed record is refused by the checksum" fails scripts/audit_archive_verify "$work/tampered"
(cd "$work/tampered" && sha256sum seal.json records.jsonl >SHA256SUMS)
check "a changed record with fixed checksums is refused by its hash" fails scripts/audit_archive_verify "$work/tampered"
check "drop refuses a tampered export" fails arch drop "$work/tampered"
check "the partition is still there" test "$(q arch "SELECT count(*) FROM namaskah.audit_partitions() WHERE partition = '$p1'")" = 1

check "drop archives the day" arch drop "$ex1"
check "the partition is gone" test "$(q arch "SELECT count(*) FROM namaskah.audit_partitions() WHERE partition = '$p1'")" = 0
check "the archive is recorded" test "$(q arch "SELECT records || ' ' || export_sha256 FROM namaskah.audit_archives WHERE partition = '$p1'")" = "3 $(sha256sum "$ex1/records.jsonl" | cut -d' ' -f1)"
check "the archiving is itself audited" test "$(q arch "SELECT count(*) FROM namaskah.audit_log WHERE route = 'audit.archive' AND details->>'partition' = '$p1'")" = 1
check "the rest continues from the seal and verifies" arch verify-rest "$ex1"
check "records cannot come back into an archived day" fails q arch "SELECT namaskah.audit_partitions_ensure('$d1', '$d1')"
check "DELETE on a partition is refused" fails q arch "DELETE FROM namaskah_audit.$p2"
check "TRUNCATE on a partition is refused" fails q arch "TRUNCATE namaskah_audit.$p2"

check "the next day archives in one go" arch archive "$p2"
ex2=$work/exports/arch-$p2
check "it continues the first export (offline, --after)" scripts/audit_archive_verify "$ex2" --after "$ex1"
check "out of order exports do not chain (offline)" fails scripts/audit_archive_verify "$ex1" --after "$ex2"
check "the log verifies after two archives" test "$(q arch "SELECT ok FROM namaskah.audit_verify()")" = t

# A day dropped behind the archive's back: the chain no longer starts right.
q arch "SELECT namaskah.audit_partitions_ensure(now() - interval '1 day', now() - interval '1 day')" >/dev/null
yday=audit_log_$(date -u -d '1 day ago' +%Y%m%d)
psql -X -q -v ON_ERROR_STOP=1 -d arch >/dev/null <<'SQL'
DO $$
DECLARE
    r namaskah.audit_log;
    prev bytea;
    c uuid := gen_random_uuid();
BEGIN
    prev := namaskah.audit_genesis(c);
    FOR i IN 1..2 LOOP
        r := ROW(nextval('namaskah.audit_log_id_seq'), c, i,
                 CASE WHEN i = 1 THEN now() - interval '1 day' ELSE clock_timestamp() END,
                 'y-' || i, 'client:y', 'GET', '/api/version', 200, 'ok', 1, '{}', prev, NULL)::namaskah.audit_log;
        r.hash := namaskah.audit_hash(prev, namaskah.audit_fields(r));
        INSERT INTO namaskah.audit_log SELECT r.*;
        prev := r.hash;
    END LOOP;
END
$$;
SQL
check "the log verifies with yesterday" test "$(q arch "SELECT ok FROM namaskah.audit_verify()")" = t
# backup and restore keep the partitioned log and its archives
check "backup" bash -c "scripts/backup --database arch --dir '$work/backups' --env-file /dev/null >'$work/backup.log' 2>&1"
check "restore" bash -c "scripts/restore_backup --latest '$work/backups' --database arch_copy --env-file /dev/null >'$work/restore.log' 2>&1 || { cat '$work/restore.log'; false; }"
check "the restored log verifies, archives included" test "$(q arch_copy "SELECT ok::text || (SELECT count(*) FROM namaskah.audit_archives) FROM namaskah.audit_verify()")" = true2
q arch "ALTER TABLE namaskah.audit_log DETACH PARTITION namaskah_audit.$yday" >/dev/null
q arch "DROP TABLE namaskah_audit.$yday" >/dev/null
check "a day dropped without archiving is caught" test "$(q arch "SELECT ok FROM namaskah.audit_verify()")" = f

summary
