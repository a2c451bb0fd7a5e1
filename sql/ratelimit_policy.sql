-- Rate limiting: policies (built-ins, constraints, set_default_rate_limit,
-- state forgotten when a policy changes meaning), clear errors, privileges,
-- and incremental cleanup of expired state under a flood of distinct keys.
\set VERBOSITY terse
\set SHOW_CONTEXT never
\set t0 '''2026-01-01 00:00:00+00'''
SET timezone = 'UTC';
-- the built-in policies
SELECT name, algorithm, "limit", window_seconds, burst, cost, scope
FROM namaskah.rate_limit_policies
WHERE name IN ('default', 'auth_register', 'auth_login', 'auth_login_account', 'auth_login_account_client')
ORDER BY name;
-- set_default_rate_limit validates and updates the default policy
SELECT namaskah.set_default_rate_limit(0, 3600);
\echo :LAST_ERROR_SQLSTATE
SELECT namaskah.set_default_rate_limit(100, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT namaskah.set_default_rate_limit(250, 60);
SELECT algorithm, "limit", window_seconds FROM namaskah.rate_limit_policies WHERE name = 'default';
SELECT namaskah.set_default_rate_limit(100, 3600);
-- constraints on policies
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
VALUES ('rt_bad', 'leaky', 1, 1, 'client');
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
VALUES ('rt_bad', 'gcra', -1, 1, 'client');
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
VALUES ('rt_bad', 'gcra', 1, 0, 'client');
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope, cost)
VALUES ('rt_bad', 'gcra', 1, 1, 'client', -1);
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
VALUES ('rt_bad', 'gcra', 1, 1, 'everyone');
-- errors of the check functions, with their SQLSTATE
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
VALUES ('rt_policy', 'fixed_window', 2, 60, 'client');
SELECT * FROM namaskah.rate_limit_check('rt_missing', 'a');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM namaskah.rate_limit_peek('rt_missing', 'a');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM namaskah.rate_limit_check(NULL, 'a');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM namaskah.rate_limit_check('rt_policy', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM namaskah.rate_limit_check('rt_policy', repeat('k', 257));
\echo :LAST_ERROR_SQLSTATE
SELECT (namaskah.rate_limit_check('rt_policy', repeat('k', 256), 1, :t0)).allowed;
SELECT * FROM namaskah.rate_limit_check('rt_policy', 'a', -1, :t0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM namaskah.rate_limit_peek('rt_policy', 'a', -2147483648, :t0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM namaskah.rate_limit_check('rt_policy', 'a', 1, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM namaskah.rate_limit_check('rt_policy', 'a', 1, 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM namaskah.rate_limit_check('rt_policy', 'a', 1, '100000-01-01 00:00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- (PostgreSQL's earliest timestamp is well inside the range)
SELECT * FROM namaskah.rate_limit_check('rt_policy', 'ancient', 1, '4713-01-01 00:00:00+00 BC');
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy = 'rt_policy';
-- a changed limit keeps the state; a changed algorithm or window forgets it
SELECT (namaskah.rate_limit_check('rt_policy', 'a', 2, :t0)).allowed;
UPDATE namaskah.rate_limit_policies SET "limit" = 3 WHERE name = 'rt_policy';
SELECT * FROM namaskah.rate_limit_check('rt_policy', 'a', 2, :t0);
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy = 'rt_policy';
UPDATE namaskah.rate_limit_policies SET algorithm = 'gcra' WHERE name = 'rt_policy';
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy = 'rt_policy';
DELETE FROM namaskah.rate_limit_policies WHERE name = 'rt_policy';
-- least privilege: definer functions with a pinned search_path (the two
-- deciding ones also plan index scans only), owned by
-- namaskah_owner, executable by no API role; state readable by none
SELECT p.proname, p.prosecdef, p.proconfig, pg_get_userbyid(p.proowner) AS owner,
       has_function_privilege('namaskah_api', p.oid, 'EXECUTE') AS api,
       has_function_privilege('namaskah_frontend', p.oid, 'EXECUTE') AS frontend
FROM pg_proc p
WHERE p.pronamespace = 'namaskah'::regnamespace
  AND p.proname IN ('rate_limit_peek', 'rate_limit_check', 'rate_limit_purge', 'set_default_rate_limit')
ORDER BY 1;
SELECT c.relname, c.relpersistence, pg_get_userbyid(c.relowner) AS owner,
       has_table_privilege('namaskah_api', c.oid, 'SELECT') AS api,
       has_table_privilege('namaskah_frontend', c.oid, 'SELECT') AS frontend
FROM pg_class c
WHERE c.oid IN ('namaskah.rate_limit_policies'::regclass, 'namaskah.rate_limit_state'::regclass)
ORDER BY 1;
-- cleanup: a flood of 20 000 distinct keys on a 1 s window ...
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
VALUES ('rt_flood', 'fixed_window', 1, 1, 'client');
SELECT count(*) FILTER (WHERE r.allowed) AS allowed
FROM generate_series(1, 20000) g,
     LATERAL namaskah.rate_limit_check('rt_flood', 'old' || g, 1, :t0::timestamptz + g * interval '1 microsecond') r;
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy = 'rt_flood';
-- ... then the clock moves on: each new key also deletes expired ones, so
-- the table shrinks while the traffic continues (requests of 100 new keys,
-- each its own transaction, as in production)
CREATE PROCEDURE pg_temp.traffic(first integer, last integer, at timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN first .. last BY 100 LOOP
        PERFORM namaskah.rate_limit_check('rt_flood', 'new' || g, 1, at)
        FROM generate_series(i, least(i + 99, last)) g;
        COMMIT;
    END LOOP;
END
$$;
CALL pg_temp.traffic(1, 1000, :t0::timestamptz + '10 s');
SELECT count(*) AS rows, count(*) FILTER (WHERE key LIKE 'old%') AS old
FROM namaskah.rate_limit_state WHERE policy = 'rt_flood';
CALL pg_temp.traffic(1001, 6000, :t0::timestamptz + '10 s');
SELECT count(*) AS rows, count(*) FILTER (WHERE key LIKE 'old%') AS old
FROM namaskah.rate_limit_state WHERE policy = 'rt_flood';
-- a key of 16 slots makes 16 rows at once, and deletes 3 more than that of
-- the expired rows (in rounds of 4: 20): 200 such keys, then 100 new ones
-- once they have expired, and the table shrinks by 4 rows a key
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
VALUES ('rt_flood_split', 'fixed_window', 1000, 1, 'client');
SELECT count(*) FILTER (WHERE (namaskah.rate_limit_check('rt_flood_split', 'old' || g, 1, :t0)).allowed) AS allowed
FROM generate_series(1, 200) g;
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy = 'rt_flood_split';
SELECT count(*) AS table_rows FROM namaskah.rate_limit_state \gset
SELECT count(*) FILTER (WHERE (namaskah.rate_limit_check('rt_flood_split', 'new' || g, 1, :t0::timestamptz + '10 s')).allowed) AS allowed
FROM generate_series(1, 100) g;
SELECT count(*) - :table_rows AS table_change,
       count(*) FILTER (WHERE policy = 'rt_flood_split' AND key LIKE 'new%') AS new_rows
FROM namaskah.rate_limit_state;
DELETE FROM namaskah.rate_limit_policies WHERE name = 'rt_flood_split';
-- rate_limit_purge deletes what remains, at most max_rows at a time
SELECT namaskah.rate_limit_purge(2000, :t0::timestamptz + '1 hour');
SELECT namaskah.rate_limit_purge(now => :t0::timestamptz + '1 hour');
SELECT namaskah.rate_limit_purge(now => :t0::timestamptz + '1 hour');
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy = 'rt_flood';
SELECT namaskah.rate_limit_purge(-1);
\echo :LAST_ERROR_SQLSTATE
DELETE FROM namaskah.rate_limit_policies WHERE name = 'rt_flood';
