#!/usr/bin/env bash
# ops_scripts.sh — the operator scripts' promises, each tried on a private
# cluster: --help everywhere; backup/restore round trip, refusal to
# overwrite, a damaged backup refused, retention; manage_secrets entropy,
# mode, refusal, rotation with overlap, no secret printed; validate_config
# warnings; migrate --dry-run changes nothing; validate_migration catches a
# lost row, a missing policy and a broken grant. Prints "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
work=$(mktemp -d /tmp/nk-ops.XXXXXX)
. test/ops/lib.inc
trap 'ops_cluster_stop; if [ "$failed" -eq 0 ] && [ -z "${KEEP_TEST_DIR:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi' EXIT
fails() { ! "$@"; }

for s in migrate validate_migration manage_secrets validate_config backup restore_backup \
    deploy_production rollback_deployment smoke_checks validate_deployment run_security_tests load_test; do
    check "scripts/$s --help" bash -c "scripts/$s --help | grep -q usage"
done

ops_cluster_start || { fail "private cluster"; summary; exit 1; }
q postgres "CREATE DATABASE ops" >/dev/null
q ops "CREATE EXTENSION namaskah" >/dev/null
q ops "SELECT namaskah.create_user('u' || g || '@example.com', 'password number ' || g) FROM generate_series(1, 5) g" >/dev/null
q ops "SELECT (namaskah.handle_request('GET', '/api/version', '', '{}', '', '127.0.0.1', 'ops-' || g)).status FROM generate_series(1, 4) g" >/dev/null
q ops "SELECT namaskah.audit_seal()" >/dev/null

# ---- secrets -----------------------------------------------------------------
env=$work/ops.env
echo "DATABASE_URL=postgresql://namaskah_frontend:$(openssl rand -hex 12)@127.0.0.1:$PGPORT/ops" >"$env"
scripts/manage_secrets generate --env-file "$env" >"$work/gen.out" 2>&1
check "generate writes mode 0600" test "$(stat -c %a "$env")" = 600
s=$(sed -n 's/^SECRET_KEY=//p' "$env") j=$(sed -n 's/^JWT_SECRET_KEY=//p' "$env")
check "generate: 64 url-safe characters each (384 bits), different" bash -c "[[ '$s' =~ ^[A-Za-z0-9_-]{64}\$ && '$j' =~ ^[A-Za-z0-9_-]{64}\$ && '$s' != '$j' ]]"
check "generate keeps the other lines" grep -q '^DATABASE_URL=' "$env"
check "generate prints no secret" bash -c "! grep -qF -e '$s' -e '$j' '$work/gen.out'"
check "generate refuses to overwrite" fails scripts/manage_secrets generate --env-file "$env"
check "generate --force may" scripts/manage_secrets generate --env-file "$env" --force
scripts/provision --env-file "$env" >/dev/null 2>&1
check "check: installed secrets match" scripts/manage_secrets check --env-file "$env"
scripts/manage_secrets rotate --env-file "$env" >"$work/rot.out" 2>&1
check "rotate prints no secret" bash -c "! grep -qF \"\$(sed -n 's/^JWT_SECRET_KEY=//p' '$env')\" '$work/rot.out'"
check "rotate: new key signs, old key in grace" test "$(q ops "SELECT string_agg(state, ',' ORDER BY state) FROM namaskah.signing_key_status")" = "grace,signing"
check "check after rotate" scripts/manage_secrets check --env-file "$env"
chmod 0644 "$env"
check "check refuses a world-readable file" fails scripts/manage_secrets check --env-file "$env" --no-database
chmod 0600 "$env"

# ---- config --------------------------------------------------------------------
check "validate_config passes" scripts/validate_config --env-file "$env" --strict
q ops "ALTER DATABASE ops SET log_statement = 'all'" >/dev/null
check "validate_config warns about log_statement = all" bash -c "scripts/validate_config --env-file '$env' | grep -q 'WARNING: log_statement = all'"
check "validate_config --strict fails on a warning" fails scripts/validate_config --env-file "$env" --strict
q ops "ALTER DATABASE ops RESET log_statement" >/dev/null
check "the project's cluster never logs bind parameters" bash -c \
    "[ \"\$(psql -X -At -d ops -c 'SHOW log_parameter_max_length')\" = 0 ]"
q ops "ALTER DATABASE ops SET log_parameter_max_length = -1" >/dev/null
check "validate_config warns when bind parameters would be logged at any level" bash -c \
    "scripts/validate_config --env-file '$env' | grep -q 'WARNING: log_parameter_max_length = -1'"
q ops "ALTER DATABASE ops RESET log_parameter_max_length" >/dev/null
check "validate_config warns about sslmode=disable to another host" bash -c \
    "DATABASE_URL='postgresql://namaskah_frontend:x@db.example.net/ops?sslmode=disable' scripts/validate_config --env-file '$env' --no-database | grep -q 'WARNING: sslmode=disable'"

# ---- backup and restore --------------------------------------------------------
bk=$work/backups
check "backup" scripts/backup --database ops --dir "$bk" --env-file /dev/null
b1=$(ls -d "$bk"/ops-* | tail -1)
check "backup files are private" test "$(stat -c %a "$b1")" = 700
check "backup holds no secret" bash -c "! zcat '$b1/extension-data.sql.gz' | grep -q -e 'app_secret' -e 'signing_keys'"
check "restore into a new database" scripts/restore_backup "$b1" --database ops_copy
check "restored rows and audit chain" test "$(q ops_copy "SELECT (SELECT count(*) FROM namaskah.users) || ' ' || (SELECT count(*) FROM namaskah.audit_log) || ' ' || (SELECT ok FROM namaskah.audit_verify())")" = "5 4 true"
check "restore refuses to overwrite" fails scripts/restore_backup "$b1" --database ops_copy
check "restore --force overwrites" scripts/restore_backup "$b1" --database ops_copy --force
cp -r "$b1" "$work/damaged"
printf 'x' >>"$work/damaged/database.dump"
check "a damaged backup is refused" fails scripts/restore_backup "$work/damaged" --database ops_damaged
check "nothing created from a damaged backup" test -z "$(q postgres "SELECT 1 FROM pg_database WHERE datname = 'ops_damaged'")"
sleep 1; scripts/backup --database ops --dir "$bk" --env-file /dev/null >/dev/null
sleep 1; scripts/backup --database ops --dir "$bk" --env-file /dev/null --keep 2 >/dev/null
check "retention keeps the newest 2" test "$(ls -d "$bk"/ops-* | wc -l)" = 2

# ---- migrate and validate_migration --------------------------------------------
check "migrate --dry-run to 2.3.0" scripts/migrate --database ops --to 2.3.0 --dry-run --snapshot "$work/dry.snapshot" --env-file /dev/null
check "dry run changed nothing" test "$(q ops "SELECT extversion FROM pg_extension WHERE extname = 'namaskah'")" = 2.4.0
check "validate_migration on a fresh database" scripts/validate_migration --database ops --env-file /dev/null
snap=$work/ops.snapshot
scripts/migrate --database ops --to 2.4.0 --snapshot "$snap" --no-backup --env-file /dev/null >/dev/null
q ops "DELETE FROM namaskah.users WHERE email = 'u5@example.com'" >/dev/null
check "validate_migration sees a lost row" bash -c "scripts/validate_migration --database ops --snapshot '$snap' --no-reference --env-file /dev/null | grep -q 'FAILED: rows: users'"
check "... and fails" fails scripts/validate_migration --database ops --snapshot "$snap" --no-reference --env-file /dev/null
q ops "DROP POLICY users_own_row ON namaskah.users" >/dev/null
check "validate_migration sees a missing policy" bash -c "scripts/validate_migration --database ops --env-file /dev/null | grep -q 'users_own_row'"
q ops "GRANT SELECT ON namaskah.signing_keys TO namaskah_api" >/dev/null
check "validate_migration sees a leaking grant" bash -c "scripts/validate_migration --database ops --no-reference --env-file /dev/null | grep -q 'namaskah_api reads namaskah.signing_keys'"
check "migrate refuses an unknown version" fails scripts/migrate --database ops --to 9.9.9 --no-backup --snapshot "$work/bad.snapshot" --env-file /dev/null

summary
