\set VERBOSITY terse
-- Verifications: sandbox allocation, expiry, keyset pagination, cancel, and
-- row-level security between two users (endpoints called as namaskah_api with
-- the claims the pipeline would set).

-- problem(call): runs a statement; 'ok', or the SQLSTATE, the problem code
-- (hint) and the extra members (detail) it failed with.
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

SELECT namaskah.create_user('vfy-alice@example.test', 'alice password 1234') AS alice \gset
SELECT namaskah.create_user('vfy-bob@example.test', 'bob password 12345') AS bob \gset

-- The sandbox provider and the default lifetime.
SELECT name, allocate_fn, countries, enabled FROM namaskah.providers;
SELECT namaskah.setting('verification.ttl_minutes');

-- Act as alice.
SELECT set_config('request.jwt.claims', json_build_object('sub', :'alice', 'role', 'user')::text, false) IS NOT NULL AS as_alice;
SET ROLE namaskah_api;

-- Create: 201, pending, a sandbox number, expiry 20 minutes out.
SELECT v->>'status' AS status, v->>'service' AS service, v->>'country' AS country,
       v->>'provider' AS provider, v->>'phone_number' ~ '^\+1555010[0-9]{4}$' AS sandbox_number,
       v->'code' AS code,
       (v->>'expires_at')::timestamptz - (v->>'created_at')::timestamptz AS lifetime,
       current_setting('namaskah.response_status') AS http_status
FROM api.verifications_create('{"body": {"service": "telegram"}}') AS v;
SELECT (api.verifications_create('{"body": {"service": "whatsapp", "country": "CA"}}'))->>'country';

-- Validation: unknown fields, wrong types, bad patterns, missing service.
DO $$
DECLARE
    bodies jsonb[] := ARRAY[
        '{"service": "telegram", "user_id": "00000000-0000-0000-0000-000000000000"}',
        '{"service": 42}', '{"service": "Tele gram"}', '{"service": "<script>"}',
        '{"country": "US"}', '{"service": "telegram", "country": "usa"}', '[]', 'null'];
    b jsonb;
    detail text;
BEGIN
    FOREACH b IN ARRAY bodies LOOP
        BEGIN
            PERFORM api.verifications_create(jsonb_build_object('body', b));
            RAISE NOTICE '% accepted', b;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            RAISE NOTICE '% -> % %', b, SQLSTATE, detail;
        END;
    END LOOP;
END
$$;

-- A country no provider serves: 422.
SELECT pg_temp.problem($$SELECT api.verifications_create('{"body": {"service": "telegram", "country": "DE"}}')$$);

-- Three more, then page through all five, two at a time.
-- (separate statements: separate transactions, distinct created_at)
SELECT (api.verifications_create('{"body": {"service": "s1"}}'))->>'status';
SELECT (api.verifications_create('{"body": {"service": "s2"}}'))->>'status';
SELECT (api.verifications_create('{"body": {"service": "s3"}}'))->>'status';
DO $$
DECLARE
    page jsonb;
    q jsonb := '{"limit": "2"}';
    seen int := 0;
    pages int := 0;
BEGIN
    LOOP
        page := api.verifications_list(jsonb_build_object('query', q));
        pages := pages + 1;
        seen := seen + jsonb_array_length(page->'items');
        RAISE NOTICE 'page %: % items, services %, next %', pages,
            jsonb_array_length(page->'items'),
            (SELECT string_agg(i->>'service', ',') FROM jsonb_array_elements(page->'items') i),
            page->>'next_cursor' IS NOT NULL;
        EXIT WHEN page->>'next_cursor' IS NULL OR pages > 5;
        q := jsonb_build_object('limit', '2', 'cursor', page->>'next_cursor');
    END LOOP;
    RAISE NOTICE 'seen % in % pages', seen, pages;
END
$$;
-- Newest first without a limit (default 20).
SELECT jsonb_array_length(p->'items') AS items, p->'next_cursor' AS next_cursor
FROM api.verifications_list('{"query": {}}') AS p;

-- Query validation: limit bounds and type, status enum, unknown parameter,
-- forged cursors.
SELECT pg_temp.problem($$SELECT api.verifications_list('{"query": {"limit": "0"}}')$$);
SELECT pg_temp.problem($$SELECT api.verifications_list('{"query": {"limit": "101"}}')$$);
SELECT pg_temp.problem($$SELECT api.verifications_list('{"query": {"limit": "ten"}}')$$);
SELECT pg_temp.problem($$SELECT api.verifications_list('{"query": {"status": "done"}}')$$);
SELECT pg_temp.problem($$SELECT api.verifications_list('{"query": {"sort": "id"}}')$$);
SELECT pg_temp.problem($$SELECT api.verifications_list('{"query": {"cursor": "not a cursor"}}')$$);
SELECT pg_temp.problem($$SELECT api.verifications_list('{"query": {"cursor": "AAAAAAAAAAAA"}}')$$);
SELECT pg_temp.problem(format('SELECT api.verifications_list(%L)', jsonb_build_object('query',
    jsonb_build_object('cursor', rtrim(translate(encode(convert_to('1.x'' OR 1=1 --', 'UTF8'),
    'base64'), '+/', '-_'), '=')))));
-- A bad cursor's problem says what to send instead (the detail), on the
-- copied-by-hand prefix of a real cursor too.
SELECT pg_temp.problem($$SELECT api.verifications_list('{"query": {"limit": "1", "cursor": "MTc2NDI2"}}')$$);
DO $$
BEGIN
    PERFORM api.verifications_list('{"query": {"cursor": "MTc2NDI2"}}');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'detail: %', SQLERRM;
END
$$;
-- A cursor round-trips exactly (microseconds included).
SELECT (namaskah.page_cursor_parse(namaskah.page_cursor('2026-01-02 03:04:05.123456+00',
        '11111111-2222-3333-4444-555555555555'))).ts = '2026-01-02 03:04:05.123456+00' AS exact;

-- Get and cancel alice's first verification; cancelling twice is 409.
SELECT id AS first_id FROM namaskah.verifications WHERE service = 'telegram' \gset
SELECT (api.verifications_get(jsonb_build_object('params', jsonb_build_object('id', :'first_id'))))->>'status';
SELECT v->>'status' AS status, v->>'cancelled_at' IS NOT NULL AS cancelled_at
FROM api.verifications_cancel(jsonb_build_object('params', jsonb_build_object('id', :'first_id'))) AS v;
SELECT pg_temp.problem(format('SELECT api.verifications_cancel(%L)',
    jsonb_build_object('params', jsonb_build_object('id', :'first_id'))));
-- A body on cancel may not assign anything.
SELECT pg_temp.problem(format('SELECT api.verifications_cancel(%L)',
    jsonb_build_object('params', jsonb_build_object('id', :'first_id'),
                       'body', '{"status": "completed"}'::jsonb)));
-- Malformed and unknown ids: the same 404.
SELECT pg_temp.problem($$SELECT api.verifications_get('{"params": {"id": "42"}}')$$);
SELECT pg_temp.problem($$SELECT api.verifications_get('{"params": {"id": "00000000-0000-0000-0000-000000000000"}}')$$);
-- Status filter.
SELECT jsonb_array_length(p->'items') FROM api.verifications_list('{"query": {"status": "cancelled"}}') AS p;
SELECT jsonb_array_length(p->'items') FROM api.verifications_list('{"query": {"status": "pending"}}') AS p;

-- The endpoint role cannot complete a verification or change its code.
UPDATE namaskah.verifications SET code = '1234';
UPDATE namaskah.verifications SET status = 'completed';
UPDATE namaskah.verifications SET cancelled_at = now();
RESET ROLE;

-- Bob sees none of alice's rows and cannot read or cancel them.
SELECT set_config('request.jwt.claims', json_build_object('sub', :'bob', 'role', 'user')::text, false) IS NOT NULL AS as_bob;
SET ROLE namaskah_api;
SELECT count(*) AS visible_to_bob FROM namaskah.verifications;
SELECT api.verifications_list('{"query": {}}');
RESET ROLE;
SELECT id AS alice_pending FROM namaskah.verifications WHERE user_id = :'alice' AND status = 'pending' LIMIT 1 \gset
SET ROLE namaskah_api;
SELECT pg_temp.problem(format('SELECT api.verifications_get(%L)',
    jsonb_build_object('params', jsonb_build_object('id', :'alice_pending'))));
SELECT pg_temp.problem(format('SELECT api.verifications_cancel(%L)',
    jsonb_build_object('params', jsonb_build_object('id', :'alice_pending'))));
UPDATE namaskah.verifications SET status = 'cancelled', cancelled_at = now() WHERE id = :'alice_pending';
-- Nor insert a row for alice.
INSERT INTO namaskah.verifications (user_id, service, country, phone_number, provider, expires_at)
VALUES (:'alice', 'x', 'US', '+15550109999', 'sandbox', now() + interval '1 hour');
RESET ROLE;
SELECT status FROM namaskah.verifications WHERE id = :'alice_pending';

-- Expiry: a row past expires_at reads as expired and is turned into one;
-- it cannot be cancelled; the operator function sweeps the rest.
UPDATE namaskah.verifications SET expires_at = now() - interval '1 second' WHERE id = :'alice_pending';
SELECT set_config('request.jwt.claims', json_build_object('sub', :'alice', 'role', 'user')::text, false) IS NOT NULL AS as_alice;
SET ROLE namaskah_api;
SELECT (api.verifications_get(jsonb_build_object('params', jsonb_build_object('id', :'alice_pending'))))->>'status';
SELECT pg_temp.problem(format('SELECT api.verifications_cancel(%L)',
    jsonb_build_object('params', jsonb_build_object('id', :'alice_pending'))));
RESET ROLE;
SELECT status FROM namaskah.verifications WHERE id = :'alice_pending';
UPDATE namaskah.verifications SET expires_at = now() - interval '1 second' WHERE status = 'pending';
SELECT namaskah.expire_verifications() AS swept;
SELECT status, count(*) FROM namaskah.verifications GROUP BY status ORDER BY status;
-- Final states are final.
SELECT pg_temp.problem(format('UPDATE namaskah.verifications SET status = %L WHERE id = %L',
    'pending', :'alice_pending'));
-- An expired number goes back to the pool; no two pending rows share one.
SELECT count(DISTINCT phone_number) = count(*) AS distinct_pending
FROM namaskah.verifications WHERE status = 'pending';

-- The endpoint functions run as namaskah_api, not as the table owner.
SELECT p.proname, pg_get_userbyid(p.proowner) AS owner, p.prosecdef
FROM pg_proc p WHERE p.pronamespace = 'api'::regnamespace AND p.proname LIKE 'verifications%'
ORDER BY 1;
SELECT method, path_template, auth, required_role FROM namaskah.routes
WHERE path_template LIKE '/api/verifications%' ORDER BY path_template, method;

-- Clean up.
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS cleared;
DELETE FROM namaskah.users WHERE email_key IN ('vfy-alice@example.test', 'vfy-bob@example.test');
SELECT count(*) AS left_over FROM namaskah.verifications;
