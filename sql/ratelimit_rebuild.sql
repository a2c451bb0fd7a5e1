-- Rate limits across a crash: rate_limit_state and rate_limit_epoch are
-- UNLOGGED, so a crash empties both (simulated here by deleting their rows,
-- then a new session, as after a restart); the first decision then rebuilds
-- the state from the consumption kept in the audit records. Limit 50 for
-- each algorithm: 28 requests, the "crash", 40 more: exactly 22 of them
-- are allowed.
\set QUIET on
SET client_min_messages = warning;
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
SELECT 'rb_' || a, a, 50, 3600, 'client'
FROM unnest(ARRAY['fixed_window', 'sliding_window', 'token_bucket', 'gcra']) AS a;
INSERT INTO namaskah.routes (method, path_template, target, auth, rate_limit_policy)
SELECT 'GET', '/api/rb/' || a, 'api.version(jsonb)', 'public', 'rb_' || a
FROM unnest(ARRAY['fixed_window', 'sliding_window', 'token_bucket', 'gcra']) AS a;
CREATE FUNCTION pg_temp.allowed(algorithm text, n int, client inet) RETURNS int
LANGUAGE sql AS $$
    SELECT count(*) FILTER (WHERE r.status = 200)::int
    FROM generate_series(1, n) AS i,
         LATERAL namaskah.handle_request('GET', '/api/rb/' || algorithm, '', '{}', NULL,
                                         client, 'rb-' || i) AS r
$$;
\set QUIET off

SELECT a AS algorithm, pg_temp.allowed(a, 28, ('192.0.2.' || n)::inet) AS before_crash
FROM unnest(ARRAY['fixed_window', 'sliding_window', 'token_bucket', 'gcra']) WITH ORDINALITY AS t(a, n);
-- what each allowed request consumed is in its audit record
SELECT e->>0 AS policy, count(*) AS recorded
FROM namaskah.audit_log a, jsonb_array_elements(a.details->'rate_limits') e
WHERE e->>0 LIKE 'rb\_%' GROUP BY 1 ORDER BY 1;

-- the crash
\set QUIET on
DELETE FROM namaskah.rate_limit_state;
DELETE FROM namaskah.rate_limit_epoch;
\c
\set QUIET off
SELECT a AS algorithm, pg_temp_allowed.n AS after_crash
FROM unnest(ARRAY['fixed_window', 'sliding_window', 'token_bucket', 'gcra']) WITH ORDINALITY AS t(a, n),
     LATERAL (SELECT count(*) FILTER (WHERE r.status = 200)::int AS n
              FROM generate_series(1, 40) AS i,
                   LATERAL namaskah.handle_request('GET', '/api/rb/' || a, '', '{}', NULL,
                                                   ('192.0.2.' || t.n)::inet, 'rb-after-' || i) AS r)
             AS pg_temp_allowed;
-- one rebuild, recorded
SELECT count(*) AS epochs, bool_and(events_replayed >= 4 * 28) AS replayed
FROM namaskah.rate_limit_epoch;

-- a rolled-back subtransaction's consumption is not recorded: its effect
-- on the state was rolled back with it
BEGIN;
SAVEPOINT s;
SELECT allowed FROM namaskah.rate_limit_check('rb_fixed_window', 'rolled-back');
ROLLBACK TO SAVEPOINT s;
SELECT allowed FROM namaskah.rate_limit_check('rb_gcra', 'kept');
SELECT jsonb_agg(e - 3) AS consumed FROM jsonb_array_elements(namaskah.rate_limit_consumed()) e;
COMMIT;
-- a new transaction starts with nothing consumed
SELECT namaskah.rate_limit_consumed() IS NULL AS empty;

\set QUIET on
DELETE FROM namaskah.routes WHERE path_template LIKE '/api/rb/%';
DELETE FROM namaskah.rate_limit_policies WHERE name LIKE 'rb\_%';
