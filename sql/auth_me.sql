\set VERBOSITY terse
-- GET /api/auth/me: the caller's account, its timestamp in the format every
-- other endpoint uses (namaskah.json_time: RFC 3339, UTC, microseconds, "Z";
-- whatever the session's TimeZone), and the same instant the admin listing
-- shows. Called as namaskah_api with the claims the pipeline would set.

SET TimeZone = 'Asia/Kolkata';
SELECT namaskah.create_user('me-alice@example.test', 'alice password 1234') AS alice \gset
SELECT namaskah.create_admin('me-admin@example.test', 'admin password 1234') AS admin \gset
UPDATE namaskah.users SET created_at = '2026-03-04 05:06:07.089012+00'
WHERE id = :'alice';

SELECT set_config('request.jwt.claims', json_build_object('sub', :'alice', 'role', 'user')::text, false) IS NOT NULL AS as_alice;
SET ROLE namaskah_api;
SELECT api.auth_me('{}') AS me \gset
RESET ROLE;

-- The keys (jsonb order: by length, then bytes) and the timestamp.
SELECT array(SELECT jsonb_object_keys(:'me'::jsonb)) AS keys;
SELECT :'me'::jsonb->>'created_at' AS created_at,
       :'me'::jsonb->>'created_at' = namaskah.json_time(created_at) AS same_as_json_time,
       :'me'::jsonb->>'id' = :'alice' AS own_account
FROM namaskah.users WHERE id = :'alice';

-- The admin listing's created_at for the same account is the same string.
SELECT set_config('request.jwt.claims', json_build_object('sub', :'admin', 'role', 'admin')::text, false) IS NOT NULL AS as_admin;
SET ROLE namaskah_api;
SELECT item->>'created_at' = :'me'::jsonb->>'created_at' AS same_as_admin_listing
FROM jsonb_array_elements((api.admin_users_list('{"query": {"limit": "100"}}'))->'items') AS item
WHERE item->>'id' = :'alice';
RESET ROLE;
RESET TimeZone;

-- request_subject(): the sub claim when it is a UUID in lower case, else
-- NULL; each change of the claims counts at once (the last claims are
-- remembered with their answer); claims that are not JSON are an error.
SELECT c AS claims, namaskah.request_subject() AS subject
FROM unnest(ARRAY[
    '{"sub": "0f8c7c2e-1b2a-4c3d-8e4f-5a6b7c8d9e0f"}',
    '{"sub": "0f8c7c2e-1b2a-4c3d-8e4f-5a6b7c8d9e0f", "role": "admin"}',
    '{"sub": "0F8C7C2E-1B2A-4C3D-8E4F-5A6B7C8D9E0F"}',
    '{"sub": "0f8c7c2e1b2a4c3d8e4f5a6b7c8d9e0f"}',
    '{"sub": 12}',
    '{"sub": null}',
    '["0f8c7c2e-1b2a-4c3d-8e4f-5a6b7c8d9e0f"]',
    '{}',
    '',
    '{"sub": "0f8c7c2e-1b2a-4c3d-8e4f-5a6b7c8d9e0f"}']) WITH ORDINALITY AS t(c, i),
     LATERAL (SELECT set_config('request.jwt.claims', c, false)) AS s
ORDER BY i;
SELECT set_config('request.jwt.claims', '{"sub": ', false) IS NOT NULL AS broken;
SELECT namaskah.request_subject();
SELECT set_config('request.jwt.claims', '', false) = '' AS reset;

-- Leave no accounts behind for the tests that count them.
DELETE FROM namaskah.users WHERE id IN (:'alice', :'admin');
