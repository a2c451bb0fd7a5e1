\set VERBOSITY terse
-- Admin endpoints (masked user listing, lock/unlock with token revocation)
-- and namaskah.create_admin for operators. Endpoints are called as
-- namaskah_api with the claims the pipeline would set.

CREATE FUNCTION pg_temp.problem(call text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    d text;
    h text;
BEGIN
    EXECUTE call;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ' ' || coalesce(nullif(h, ''), '-') || coalesce(' ' || nullif(d, ''), '');
END
$f$;
CREATE FUNCTION pg_temp.act_as(sub text, role text) RETURNS boolean LANGUAGE sql AS $f$
    SELECT set_config('request.jwt.claims', json_build_object('sub', sub, 'role', role)::text, false) IS NOT NULL
$f$;

-- create_admin: operators only; validates its input.
SELECT namaskah.create_admin('adm-root@example.test', 'admin password 1234') AS admin_id \gset
SELECT role, email FROM namaskah.users WHERE id = :'admin_id';
SELECT pg_temp.problem($$SELECT namaskah.create_admin('ADM-root@example.test', 'another password 1')$$);
SELECT pg_temp.problem($$SELECT namaskah.create_admin('not an email', 'admin password 1234')$$);
SELECT pg_temp.problem($$SELECT namaskah.create_admin('adm-2@example.test', 'short')$$);
SELECT has_function_privilege('namaskah_api', 'namaskah.create_admin(text, text)', 'EXECUTE') AS api_may,
       has_function_privilege('namaskah_frontend', 'namaskah.create_admin(text, text)', 'EXECUTE') AS frontend_may;
SELECT count(*) AS routes_to_create_admin FROM namaskah.routes
WHERE target::text LIKE '%create_admin%';

SELECT namaskah.create_user('adm-alice@example.test', 'alice password 1234', '+14155552671') AS alice \gset
SELECT namaskah.create_user('adm-bob@example.test', 'bob password 12345') AS bob \gset

-- A user is refused everywhere, even calling the functions directly.
SELECT pg_temp.act_as(:'alice', 'user');
SET ROLE namaskah_api;
SELECT pg_temp.problem($$SELECT api.admin_users_list('{"query": {}}')$$);
SELECT pg_temp.problem(format('SELECT api.admin_user_lock(%L)', jsonb_build_object('params', jsonb_build_object('id', :'bob'))));
SELECT pg_temp.problem(format('SELECT api.admin_user_unlock(%L)', jsonb_build_object('params', jsonb_build_object('id', :'bob'))));
SELECT pg_temp.problem(format('SELECT namaskah.admin_set_user_lock(%L, true)', :'bob'));
-- The endpoint role cannot read other accounts at all.
SELECT count(*) AS visible_users FROM namaskah.users;
RESET ROLE;

-- As the admin: the listing masks emails and phones.
SELECT pg_temp.act_as(:'admin_id', 'admin');
SET ROLE namaskah_api;
SELECT i->>'email' AS email, i->>'phone' AS phone, i->>'role' AS role, i->'locked' AS locked
FROM jsonb_array_elements((api.admin_users_list('{"query": {"limit": "100"}}'))->'items') i
WHERE i->>'id' IN (:'admin_id', :'alice', :'bob')
ORDER BY i->>'role', i->>'phone';
-- (searched in every member but the random ids, the times and the cursor,
-- where the digits 2671 may occur by chance)
SELECT position('example.test' IN t) AS clear_domain, position('2671' IN t) AS clear_phone
FROM (SELECT string_agg((i - 'id' - 'created_at' - 'locked_until')::text, ' ') AS t
      FROM jsonb_array_elements((api.admin_users_list('{"query": {"limit": "100"}}'))->'items') i) s;
SELECT jsonb_array_length(p->'items') AS admins FROM api.admin_users_list('{"query": {"role": "admin"}}') p;
-- Pagination visits every account once.
DO $$
DECLARE
    page jsonb;
    q jsonb := '{"limit": "1"}';
    ids text[] := '{}';
BEGIN
    LOOP
        page := api.admin_users_list(jsonb_build_object('query', q));
        ids := ids || ARRAY(SELECT i->>'id' FROM jsonb_array_elements(page->'items') i);
        EXIT WHEN page->>'next_cursor' IS NULL OR cardinality(ids) > 1000;
        q := jsonb_build_object('limit', '1', 'cursor', page->>'next_cursor');
    END LOOP;
    PERFORM set_config('test.pages', cardinality(ids)::text, false),
            set_config('test.distinct', (SELECT count(DISTINCT x) FROM unnest(ids) x)::text, false);
END
$$;
RESET ROLE;
SELECT current_setting('test.pages')::int = count(*) AS one_page_each,
       current_setting('test.distinct')::int = count(*) AS all_distinct
FROM namaskah.users;
SET ROLE namaskah_api;
SELECT pg_temp.problem($$SELECT api.admin_users_list('{"query": {"limit": "500"}}')$$);
SELECT pg_temp.problem($$SELECT api.admin_users_list('{"query": {"role": "root"}}')$$);
SELECT pg_temp.problem($$SELECT api.admin_users_list('{"query": {"email": "x"}}')$$);
-- A cursor the API did not produce: invalid_query, field cursor, and a detail
-- saying what to send instead.
SELECT pg_temp.problem($$SELECT api.admin_users_list('{"query": {"cursor": "MTc2NDI2"}}')$$);
DO $$
BEGIN
    PERFORM api.admin_users_list('{"query": {"cursor": "MTc2NDI2"}}');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'detail: %', SQLERRM;
END
$$;

-- Lock: the account is locked indefinitely and its tokens are revoked.
SELECT v->>'locked' AS locked, v->>'locked_until' AS locked_until, v->>'email' AS email
FROM api.admin_user_lock(jsonb_build_object('params', jsonb_build_object('id', :'alice'))) v;
RESET ROLE;
SELECT locked_until = 'infinity' AS locked_forever FROM namaskah.users WHERE id = :'alice';
SELECT count(*) AS cutoff FROM namaskah.user_token_cutoff WHERE user_id = :'alice';
SELECT (namaskah.authenticate_password('adm-alice@example.test', 'alice password 1234')).outcome;
SET ROLE namaskah_api;
-- Unlock.
SELECT v->>'locked' AS locked, v->'locked_until' AS locked_until
FROM api.admin_user_unlock(jsonb_build_object('params', jsonb_build_object('id', :'alice'))) v;
RESET ROLE;
SELECT (namaskah.authenticate_password('adm-alice@example.test', 'alice password 1234')).outcome;
SET ROLE namaskah_api;
-- Not oneself; unknown and malformed ids are the same 404; bodies may not
-- assign anything.
SELECT pg_temp.problem(format('SELECT api.admin_user_lock(%L)', jsonb_build_object('params', jsonb_build_object('id', :'admin_id'))));
SELECT pg_temp.problem($$SELECT api.admin_user_lock('{"params": {"id": "00000000-0000-0000-0000-000000000000"}}')$$);
SELECT pg_temp.problem($$SELECT api.admin_user_lock('{"params": {"id": "bob"}}')$$);
SELECT pg_temp.problem(format('SELECT api.admin_user_lock(%L)', jsonb_build_object('params',
    jsonb_build_object('id', :'bob'), 'body', '{"locked_until": "2000-01-01"}'::jsonb)));
RESET ROLE;

SELECT method, path_template, auth, required_role FROM namaskah.routes
WHERE path_template LIKE '/api/admin/%' ORDER BY path_template, method;

-- Clean up.
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS cleared;
DELETE FROM namaskah.user_token_cutoff WHERE user_id IN (:'alice', :'bob', :'admin_id');
DELETE FROM namaskah.users WHERE email_key LIKE 'adm-%@example.test';
