\set VERBOSITY terse
-- The migration walk 2.3.0 -> 2.4.0 -> 2.3.0 -> 2.4.0 with rows in it
-- (docs/MIGRATION.md). Named to run last: it drops the extension the other
-- tests share and leaves a fresh 2.4.0 installed. Needs the working
-- directory to be the repository root (pg_regress is run from there).
SET client_min_messages = warning;
DROP EXTENSION namaskah CASCADE;
DROP SCHEMA IF EXISTS namaskah_holding CASCADE;
-- The schema outlives the extension (with its grants): start from nothing.
DROP SCHEMA IF EXISTS namaskah CASCADE;

-- The schema of a fresh 2.4.0, to compare the upgraded one with.
CREATE EXTENSION namaskah;
\set ECHO none
-- (extension/Makefile's installcheck exports the source tree's path)
\getenv source_dir NAMASKAH_SOURCE_DIR
\i :source_dir/extension/upgrade/fingerprint.sql
\set ECHO all
CREATE TABLE public.zz_fresh AS SELECT * FROM namaskah_fingerprint;
SELECT count(*) > 100 AS fingerprint_has_rows FROM public.zz_fresh;
DROP EXTENSION namaskah;
DROP SCHEMA namaskah;

-- 2.3.0 with accounts (legacy unsalted SHA-256) and verifications.
CREATE EXTENSION namaskah VERSION '2.3.0';
CREATE TABLE public.zz_fresh23 AS SELECT * FROM namaskah_fingerprint;
SELECT extversion FROM pg_extension WHERE extname = 'namaskah';
INSERT INTO namaskah.users (id, email, phone, password_hash, role) VALUES
    ('00000000-0000-4000-8000-000000000001', 'Alice@Example.com', '+15550100001',
     namaskah.legacy_password_hash('alice password 1'), 'user'),
    ('00000000-0000-4000-8000-000000000002', 'bob@example.com', NULL,
     namaskah.legacy_password_hash('bob password 22'), 'user'),
    ('00000000-0000-4000-8000-000000000003', 'root@example.com', NULL,
     namaskah.legacy_password_hash('root password 333'), 'admin');
INSERT INTO namaskah.verifications (id, user_id, service, phone_number, status, code, expires_at) VALUES
    ('10000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000001',
     'telegram', '+15550100101', 'completed', '123456', now() + interval '1 hour'),
    ('10000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001',
     'whatsapp', '+15550100102', 'pending', NULL, now() + interval '1 hour'),
    ('10000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000002',
     'signal', '+15550100103', 'cancelled', NULL, now() + interval '1 hour');
SELECT namaskah.check_password('bob@example.com', 'bob password 22') IS NOT NULL AS legacy_login;

-- Up to 2.4.0.
ALTER EXTENSION namaskah UPDATE TO '2.4.0';
SELECT extversion FROM pg_extension WHERE extname = 'namaskah';
SELECT (SELECT count(*) FROM namaskah.users) AS users,
       (SELECT count(*) FROM namaskah.verifications) AS verifications;
SELECT email, email_key, left(password_hash, 8) AS hash_kind, role FROM namaskah.users ORDER BY id;
SELECT service, status, country, provider, completed_at IS NOT NULL AS completed,
       cancelled_at IS NOT NULL AS cancelled FROM namaskah.verifications ORDER BY id;
-- Same schema as a fresh install: no fact missing on either side.
SELECT * FROM public.zz_fresh EXCEPT SELECT * FROM namaskah_fingerprint;
SELECT * FROM namaskah_fingerprint EXCEPT SELECT * FROM public.zz_fresh;
SELECT relname, relrowsecurity FROM pg_class
WHERE oid IN ('namaskah.users'::regclass, 'namaskah.verifications'::regclass) ORDER BY 1;
SELECT has_column_privilege('namaskah_api', 'namaskah.users', 'email', 'SELECT') AS api_reads_email,
       has_column_privilege('namaskah_api', 'namaskah.users', 'password_hash', 'SELECT') AS api_reads_hash,
       has_function_privilege('namaskah_frontend',
           'namaskah.handle_request(text, text, text, jsonb, text, inet, text)', 'EXECUTE') AS frontend_entry,
       has_table_privilege('namaskah_frontend', 'namaskah.users', 'SELECT') AS frontend_reads_users;
SELECT nspname FROM pg_namespace WHERE nspname LIKE 'namaskah\_%' ORDER BY 1;

-- A legacy hash is accepted once and replaced by scrypt; a wrong password is not.
SELECT outcome, user_id FROM namaskah.authenticate_password('alice@example.com', 'wrong password');
SELECT outcome, user_id FROM namaskah.authenticate_password('alice@example.com', 'alice password 1');
SELECT email, left(password_hash, 8) AS hash_kind, failed_logins FROM namaskah.users ORDER BY id;
SELECT outcome FROM namaskah.authenticate_password('alice@example.com', 'alice password 1');

-- Row-level security: the API role sees its subject's rows only.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"00000000-0000-4000-8000-000000000001"}', true) IS NOT NULL AS claims;
SET LOCAL ROLE namaskah_api;
SELECT count(*) AS own_verifications FROM namaskah.verifications;
SELECT email FROM namaskah.users;
ROLLBACK;

-- 2.4.0 state: a signing key, a changed setting, audited requests, a seal,
-- an account created under 2.4.0.
CREATE TEMP TABLE k AS SELECT encode(sha256('zz_migration signing key'::bytea), 'base64') AS secret;
SELECT namaskah.install_signing_key(secret) IS NOT NULL AS key_installed FROM k;
SELECT namaskah.set_setting('jwt.expire_minutes', '61');
SELECT (namaskah.handle_request('GET', '/api/version', '', '{}', '', '127.0.0.1', 'zz-' || g)).status
FROM generate_series(1, 3) g;
-- and a chain three days old (its own partition), as audit_append writes it
SELECT namaskah.audit_partitions_ensure(now() - interval '3 days', now() - interval '3 days');
DO $$
DECLARE
    r namaskah.audit_log;
    prev bytea;
    c uuid := gen_random_uuid();
BEGIN
    prev := namaskah.audit_genesis(c);
    FOR i IN 1..2 LOOP
        r := ROW(nextval('namaskah.audit_log_id_seq'), c, i, now() - interval '3 days' + i * interval '1 s',
                 'zz-old-' || i, 'client:zz', 'GET', '/api/version', 200, 'ok', 1, '{}', prev, NULL)::namaskah.audit_log;
        r.hash := namaskah.audit_hash(prev, namaskah.audit_fields(r));
        INSERT INTO namaskah.audit_log SELECT r.*;
        prev := r.hash;
    END LOOP;
END
$$;
SELECT count(DISTINCT tableoid) AS audit_days FROM namaskah.audit_log;
SELECT namaskah.audit_seal() > 0 AS sealed;
SELECT namaskah.create_user('dave@example.com', 'dave password 4444') IS NOT NULL AS created;
SELECT (SELECT count(*) FROM namaskah.audit_log) AS audit_records, ok, checked FROM namaskah.audit_verify();

-- Back to 2.3.0: accounts and verifications stay, the rest is held.
ALTER EXTENSION namaskah UPDATE TO '2.3.0';
SELECT extversion FROM pg_extension WHERE extname = 'namaskah';
SELECT (SELECT count(*) FROM namaskah.users) AS users,
       (SELECT count(*) FROM namaskah.verifications) AS verifications;
SELECT * FROM public.zz_fresh23 EXCEPT SELECT * FROM namaskah_fingerprint;
SELECT * FROM namaskah_fingerprint EXCEPT SELECT * FROM public.zz_fresh23;
SELECT email, left(password_hash, 8) AS hash_kind FROM namaskah.users ORDER BY email;
SELECT namaskah.check_password('bob@example.com', 'bob password 22') IS NOT NULL AS legacy_login,
       namaskah.check_password('Alice@Example.com', 'alice password 1') IS NOT NULL AS scrypt_login_needs_reset;
SELECT relname FROM pg_class WHERE relnamespace = 'namaskah_holding'::regnamespace AND relkind = 'r'
    AND relname IN ('audit_log', 'audit_seals', 'signing_keys', 'settings', '_sequences', 'users')
ORDER BY 1;
SELECT count(*) AS held_audit_records FROM namaskah_holding.audit_log;
SELECT count(*) AS holding_members FROM pg_depend d
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'namaskah') AND d.deptype = 'e'
  AND ((d.classid = 'pg_class'::regclass AND d.objid IN
        (SELECT oid FROM pg_class WHERE relnamespace = 'namaskah_holding'::regnamespace))
       OR (d.classid = 'pg_namespace'::regclass AND d.objid = 'namaskah_holding'::regnamespace));
-- Life under 2.3.0 goes on.
SELECT namaskah.create_user('erin@example.com', 'erin password 55555') IS NOT NULL AS created;
INSERT INTO namaskah.verifications (user_id, service, phone_number, expires_at)
VALUES ('00000000-0000-4000-8000-000000000002', 'viber', '+15550100104', now() + interval '1 hour');

-- Up again: every row back, nothing left over, same schema as fresh.
ALTER EXTENSION namaskah UPDATE TO '2.4.0';
SELECT extversion FROM pg_extension WHERE extname = 'namaskah';
SELECT (SELECT count(*) FROM namaskah.users) AS users,
       (SELECT count(*) FROM namaskah.verifications) AS verifications;
SELECT email, left(password_hash, 8) AS hash_kind FROM namaskah.users ORDER BY email;
SELECT service, status, country, provider FROM namaskah.verifications ORDER BY service;
SELECT (SELECT count(*) FROM namaskah.audit_log) AS audit_records, ok, checked FROM namaskah.audit_verify();
-- the held log went back into daily partitions, none of them extension members
SELECT count(DISTINCT tableoid) AS audit_days FROM namaskah.audit_log;
SELECT count(*) AS member_partitions FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
WHERE d.deptype = 'e' AND c.relnamespace = 'namaskah_audit'::regnamespace;
SELECT count(*) AS seals FROM namaskah.audit_seals;
SELECT namaskah.setting('jwt.expire_minutes') AS expire_minutes,
       (SELECT count(*) FROM namaskah.signing_keys) AS signing_keys;
SELECT nspname FROM pg_namespace WHERE nspname LIKE 'namaskah\_%' ORDER BY 1;
SELECT * FROM public.zz_fresh EXCEPT SELECT * FROM namaskah_fingerprint;
SELECT * FROM namaskah_fingerprint EXCEPT SELECT * FROM public.zz_fresh;
SELECT outcome FROM namaskah.authenticate_password('alice@example.com', 'alice password 1');
SELECT outcome FROM namaskah.authenticate_password('erin@example.com', 'erin password 55555');
-- New records continue the sequence; the chain still verifies.
SELECT (namaskah.handle_request('GET', '/api/version', '', '{}', '', '127.0.0.1', 'zz-after')).status;
SELECT min(id) = 1 AND max(id) = count(*) AS ids_continue FROM namaskah.audit_log;
SELECT ok FROM namaskah.audit_verify();

-- Leave a fresh 2.4.0 behind.
DROP TABLE public.zz_fresh, public.zz_fresh23;
DROP EXTENSION namaskah;
CREATE EXTENSION namaskah;
SELECT extversion FROM pg_extension WHERE extname = 'namaskah';
