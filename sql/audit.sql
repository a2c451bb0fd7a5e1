-- The audit log: one record per request with masked, sanitized details,
-- append-only for everyone, and tamper evidence through the hash chains.
\set VERBOSITY terse

SELECT coalesce(max(id), 0) AS before FROM namaskah.audit_log \gset

-- three requests, one with an email and CR/LF in a header and a bearer token
SELECT status FROM namaskah.handle_request('GET', '/api/version', '',
    '{"user-agent": "curl\r\nInjected: yes alice@example.com"}', NULL, '192.0.2.7', 'audit-1');
SELECT status FROM namaskah.handle_request('GET', '/api/auth/me', '',
    '{"authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}', NULL, '192.0.2.7', 'audit-2');
SELECT status FROM namaskah.handle_request('GET', '/api/nope', '', '{}', NULL, '2001:db8::1', 'audit-3');
SELECT status FROM namaskah.handle_request('POST', '/api/%0d%0a', '',
    '{"x-namaskah-transport-error": "invalid_encoding"}', NULL, '192.0.2.7', 'audit-4');

SELECT seq > 0 AS seq, request_id, actor ~ '^(client|net):' AS pseudonymous_actor, method, route,
       status, outcome, duration_ms >= 0 AS timed, details - 'rate_limits' AS details
FROM namaskah.audit_log WHERE id > :before ORDER BY id;
-- what each request consumed of its rate limits (the time of each, in
-- microseconds, left out): the keys are pseudonyms, never the address
SELECT request_id, (SELECT jsonb_agg(e - 3) FROM jsonb_array_elements(details->'rate_limits') e)
       AS consumed,
       (SELECT bool_and((e->>3)::bigint > 0) FROM jsonb_array_elements(details->'rate_limits') e)
       AS timed
FROM namaskah.audit_log WHERE id > :before ORDER BY id;
-- nothing secret or personal in the records
SELECT count(*) AS leaks FROM namaskah.audit_log
WHERE id > :before AND (details::text ~ 'eyJ|alice@example|192\.0\.2\.7|2001:db8::1'
                        OR actor ~ '192\.0\.2\.7');

SELECT ok, checked >= 4 AS checked FROM namaskah.audit_verify();

-- the chain's head is kept per backend: an append rolled back (with its
-- transaction or a savepoint) must not become the next record's predecessor
BEGIN;
SELECT status FROM namaskah.handle_request('GET', '/api/version', '', '{}', NULL, '192.0.2.7', 'audit-rolled-back');
ROLLBACK;
SELECT status FROM namaskah.handle_request('GET', '/api/version', '', '{}', NULL, '192.0.2.7', 'audit-after-rollback');
BEGIN;
SAVEPOINT s;
SELECT status FROM namaskah.handle_request('GET', '/api/version', '', '{}', NULL, '192.0.2.7', 'audit-savepoint');
ROLLBACK TO SAVEPOINT s;
SELECT status FROM namaskah.handle_request('GET', '/api/version', '', '{}', NULL, '192.0.2.7', 'audit-after-savepoint');
COMMIT;
-- ... while a savepoint rolled back without an append in it (a request's own
-- subtransactions are such) leaves the head as it was; one released into a
-- transaction that then rolls back to an earlier savepoint does not
BEGIN;
SELECT status FROM namaskah.handle_request('GET', '/api/version', '', '{}', NULL, '192.0.2.7', 'audit-before-empty');
SAVEPOINT empty;
SELECT 1 AS nothing_appended;
ROLLBACK TO SAVEPOINT empty;
SELECT status FROM namaskah.handle_request('GET', '/api/version', '', '{}', NULL, '192.0.2.7', 'audit-after-empty');
SAVEPOINT outer_sp;
SAVEPOINT inner_sp;
SELECT status FROM namaskah.handle_request('GET', '/api/version', '', '{}', NULL, '192.0.2.7', 'audit-released');
RELEASE SAVEPOINT inner_sp;
ROLLBACK TO SAVEPOINT outer_sp;
SELECT status FROM namaskah.handle_request('GET', '/api/version', '', '{}', NULL, '192.0.2.7', 'audit-after-outer');
COMMIT;
SELECT request_id, seq - lag(seq) OVER (ORDER BY id) AS step
FROM namaskah.audit_log
WHERE request_id IN ('audit-4', 'audit-after-rollback', 'audit-after-savepoint',
                     'audit-before-empty', 'audit-after-empty', 'audit-after-outer')
ORDER BY id;
SELECT count(*) AS rolled_back_records FROM namaskah.audit_log
WHERE request_id IN ('audit-rolled-back', 'audit-savepoint', 'audit-released');
SELECT ok FROM namaskah.audit_verify();

-- append-only: API roles cannot touch it, the owner's changes are refused
SET ROLE namaskah_api;
SELECT count(*) FROM namaskah.audit_log;
UPDATE namaskah.audit_log SET status = 200;
RESET ROLE;
SET ROLE namaskah_frontend;
DELETE FROM namaskah.audit_log;
RESET ROLE;
SET ROLE namaskah_auditor;
UPDATE namaskah.audit_log SET status = 200 WHERE id = :before + 1;
DELETE FROM namaskah.audit_log WHERE id = :before + 1;
TRUNCATE namaskah.audit_log;
RESET ROLE;
UPDATE namaskah.audit_log SET status = 200 WHERE id = :before + 1;

-- tampering as superuser (triggers off) is detected and located
SELECT namaskah.audit_seal() > 0 AS sealed;
ALTER TABLE namaskah.audit_log DISABLE TRIGGER USER;
-- a changed record
UPDATE namaskah.audit_log SET status = 200 WHERE id = :before + 2;
SELECT ok, first_bad_id - :before AS first_bad FROM namaskah.audit_verify();
UPDATE namaskah.audit_log SET status = 401 WHERE id = :before + 2;
SELECT ok FROM namaskah.audit_verify();
-- reordered records (two records swap their places in the chain)
CREATE TEMP TABLE positions AS SELECT id, seq FROM namaskah.audit_log WHERE id IN (:before + 1, :before + 2);
UPDATE namaskah.audit_log SET seq = seq + 1000000000 WHERE id = :before + 1;
UPDATE namaskah.audit_log SET seq = (SELECT seq FROM positions WHERE id = :before + 1) WHERE id = :before + 2;
UPDATE namaskah.audit_log SET seq = (SELECT seq FROM positions WHERE id = :before + 2) WHERE id = :before + 1;
SELECT ok, first_bad_id - :before AS first_bad FROM namaskah.audit_verify();
UPDATE namaskah.audit_log SET seq = seq + 1000000000 WHERE id = :before + 1;
UPDATE namaskah.audit_log SET seq = (SELECT seq FROM positions WHERE id = :before + 2) WHERE id = :before + 2;
UPDATE namaskah.audit_log SET seq = (SELECT seq FROM positions WHERE id = :before + 1) WHERE id = :before + 1;
SELECT ok FROM namaskah.audit_verify();
-- a deleted record in the middle, then the sealed head at the end
CREATE TEMP TABLE saved AS SELECT * FROM namaskah.audit_log WHERE id IN (:before + 2, :before + 4);
DELETE FROM namaskah.audit_log WHERE id = :before + 2;
SELECT ok, first_bad_id - :before AS first_bad FROM namaskah.audit_verify();
INSERT INTO namaskah.audit_log SELECT * FROM saved WHERE id = :before + 2;
DELETE FROM namaskah.audit_log WHERE id = :before + 4;
SELECT ok, first_bad_id - :before AS first_bad FROM namaskah.audit_verify();
INSERT INTO namaskah.audit_log SELECT * FROM saved WHERE id = :before + 4;
ALTER TABLE namaskah.audit_log ENABLE TRIGGER USER;
SELECT ok FROM namaskah.audit_verify();
-- a range check
SELECT ok, checked FROM namaskah.audit_verify(:before + 2, :before + 3);

-- security events are derived from the records
SELECT namaskah.set_setting('security.rollup_lag_seconds', '0');
SELECT namaskah.security_rollup() > 0 AS rolled;
SELECT type, reason, total > 0 AS counted FROM namaskah.security_event_totals
WHERE type IN ('auth_failure', 'injection_attempt') ORDER BY type, reason;
SELECT type, count > 0 AS counted, reasons ?| ARRAY['unknown_kid', 'invalid_encoding'] AS reasons FROM namaskah.security_events
WHERE type IN ('auth_failure', 'injection_attempt') ORDER BY type;
SELECT namaskah.security_rollup() AS nothing_new;

-- auditing can be switched off (benchmarks only)
SELECT namaskah.set_setting('audit.enabled', 'off');
SELECT count(*) AS before_off FROM namaskah.audit_log \gset
SELECT status FROM namaskah.handle_request('GET', '/api/version', '', '{}', NULL, '192.0.2.7', 'audit-5');
SELECT count(*) - :before_off AS written FROM namaskah.audit_log;
SELECT namaskah.set_setting('audit.enabled', 'on');
SELECT namaskah.set_setting('security.rollup_lag_seconds', '5');
