#!/usr/bin/env bash
# ops_scripts.sh — the operator scripts' promises, each tried on a private
# cluster: --help everywhere; backup/restore round trip, refusal to
# overwrite, a damaged backup refused, retention; manage_secrets entropy,
# mode, refusal, rotation with overlap, no secret printed, the keys named as
# provision names them, a database it cannot reach said plainly (check: exit
# 3; rotate: nothing changed) and told from a refusal; send_test_sms against
# a real namaskahd: accepted, and refused with a wrong SECRET_KEY; validate_config
# warnings; migrate --dry-run changes nothing; validate_migration catches a
# lost row, a missing policy and a broken grant. Prints "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
work=$(mktemp -d /tmp/nk-ops.XXXXXX)
. test/ops/lib.inc
trap '[ -z "${web_pid:-}" ] || kill "$web_pid" 2>/dev/null; ops_cluster_stop; if [ "$failed" -eq 0 ] && [ -z "${KEEP_TEST_DIR:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi' EXIT
fails() { ! "$@"; }

for s in migrate validate_migration manage_secrets send_test_sms validate_config backup restore_backup \
    deploy_production rollback_deployment smoke_checks validate_deployment run_security_tests load_test topology; do
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
scripts/provision --env-file "$env" >"$work/prov.out" 2>&1
check "check: installed secrets match" scripts/manage_secrets check --env-file "$env"
scripts/manage_secrets check --env-file "$env" --no-database >"$work/chk.out" 2>&1
fp=$(sed -n 's/^provision: SECRET_KEY installed, fingerprint \([0-9a-f]\{16\}\)$/\1/p' "$work/prov.out")
kid=$(sed -n 's/^provision: JWT_SECRET_KEY installed, key id \(k[0-9a-f]\{16\}\)$/\1/p' "$work/prov.out")
check "check names the keys as provision does (fingerprint $fp, key id $kid)" bash -c \
    "[ -n '$fp' ] && [ -n '$kid' ] && grep -q 'ok: SECRET_KEY is acceptable (.*, fingerprint $fp)\$' '$work/chk.out' && grep -q 'ok: JWT_SECRET_KEY is acceptable (.*, key id $kid)\$' '$work/chk.out'"
cp -p "$env" "$work/before.env"
cur_s=$(sed -n 's/^SECRET_KEY=//p' "$env") cur_j=$(sed -n 's/^JWT_SECRET_KEY=//p' "$env")
PGHOST=$work/nowhere scripts/manage_secrets check --env-file "$env" >"$work/chk-down.out" 2>&1
rc=$?
check "check, database unreachable: exit 3, says what it could not check" bash -c \
    "[ $rc = 3 ] && grep -q \"NOT CHECKED: .*cannot connect to database 'ops' on $work/nowhere\" '$work/chk-down.out' && ! grep -q 'secrets are in order' '$work/chk-down.out'"
check "rotate, database unreachable: says so, changes nothing" bash -c \
    "! PGHOST='$work/nowhere' scripts/manage_secrets rotate --env-file '$env' >'$work/rot-down.out' 2>&1 && grep -q \"cannot connect to database 'ops' on $work/nowhere.*not reachable; nothing was changed\" '$work/rot-down.out' && ! grep -q refused '$work/rot-down.out' && cmp -s '$env' '$work/before.env'"
check "rotate, a refusal: the server's error line, nothing changed" bash -c \
    "! scripts/manage_secrets rotate --env-file '$env' --database postgres >'$work/rot-refused.out' 2>&1 && grep -q 'the database refused the new JWT_SECRET_KEY: ERROR: ' '$work/rot-refused.out' && cmp -s '$env' '$work/before.env'"
check "those messages hold no secret" bash -c \
    "! grep -qF -e '$cur_s' -e '$cur_j' '$work'/chk*.out '$work'/rot-*.out && ! grep -qE '[A-Za-z0-9_-]{48}' '$work'/rot-*.out"
scripts/manage_secrets rotate --env-file "$env" >"$work/rot.out" 2>&1
check "rotate prints no secret" bash -c "! grep -qF \"\$(sed -n 's/^JWT_SECRET_KEY=//p' '$env')\" '$work/rot.out'"
check "rotate: new key signs, old key in grace" test "$(q ops "SELECT string_agg(state, ',' ORDER BY state) FROM namaskah.signing_key_status")" = "grace,signing"
check "check after rotate" scripts/manage_secrets check --env-file "$env"
chmod 0644 "$env"
check "check refuses a world-readable file" fails scripts/manage_secrets check --env-file "$env" --no-database
chmod 0600 "$env"

# ---- send_test_sms against namaskahd ---------------------------------------------
sed 's|/ops$|/ops_sms|' "$env" >"$work/sms.env"
chmod 0600 "$work/sms.env"
if [ ! -x frontend/namaskahd ]; then
    fail "send_test_sms: no frontend/namaskahd (make -C frontend)"
elif scripts/provision --env-file "$work/sms.env" >"$work/prov-sms.out" 2>&1; then
    web=http://127.0.0.1:$(free_port)
    LISTEN=${web#http://} METRICS_LISTEN=off WORKER_THREADS=8 ENV_FILE=$work/sms.env \
        frontend/namaskahd >"$work/namaskahd.log" 2>&1 &
    web_pid=$!
    for _ in $(seq 100); do curl -fsS "$web/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
    uid=$(q ops_sms "SELECT namaskah.create_user('sms@example.com', 'password for the sms test')")
    num=$(q ops_sms "INSERT INTO namaskah.verifications (user_id, service, country, phone_number, provider, expires_at) SELECT '$uid', 'telegram', 'US', a.phone_number, a.provider, now() + interval '20 minutes' FROM namaskah.allocate_number('telegram', 'US') a RETURNING phone_number")
    bad_key=$(openssl rand -hex 32)
    check "send_test_sms with a wrong SECRET_KEY: 401 webhook_signature_invalid, nothing completed" bash -c \
        "! SECRET_KEY='$bad_key' scripts/send_test_sms --url '$web' --number '$num' --env-file '$work/sms.env' >'$work/sms-bad.out' 2>&1 && grep -q '401 webhook_signature_invalid' '$work/sms-bad.out' && [ \"\$(psql -X -At -d ops_sms -c 'SELECT status FROM namaskah.verifications')\" = pending ]"
    check "send_test_sms: accepted, the sandbox verification completed with its code" bash -c \
        "scripts/send_test_sms --url '$web' --number '$num' --text 'Your code is 482913' --env-file '$work/sms.env' >'$work/sms.out' 2>&1 && grep -q '200 accepted' '$work/sms.out' && [ \"\$(psql -X -At -d ops_sms -c 'SELECT status || code FROM namaskah.verifications')\" = completed482913 ]"
    check "send_test_sms prints no secret" bash -c "! grep -qF -e '$cur_s' -e '$bad_key' '$work'/sms*.out"
    kill "$web_pid"; wait "$web_pid" 2>/dev/null; web_pid=
else
    fail "send_test_sms: provision a database"; tail -5 "$work/prov-sms.out"
fi

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
