\set VERBOSITY terse
-- The signed inbound-SMS webhook, through namaskah.handle_request: signature
-- scheme (a fixed test vector, the one in docs/webhooks.md), missing,
-- tampered, stale and replayed calls, code extraction, and which
-- verifications a message may complete.

-- This test installs its own SECRET_KEY; whatever was installed is put back
-- at the end.
CREATE TEMP TABLE saved_secret AS SELECT * FROM namaskah.app_secret;
SELECT namaskah.install_app_secret('Zq8r-Lw2xTn6vXb9pKd3eHs7uPm4aYc1wFg5') IS NOT NULL AS installed;

-- The worked example of docs/webhooks.md.
SELECT encode(namaskah.derive_key('webhook'), 'hex') AS webhook_key;
SELECT namaskah.webhook_signature('1700000000',
    '{"message_id":"msg-1","to":"+15550100042","text":"Your code is 482913"}') AS signature;

-- hook(body, ts, signature): one call of POST /api/webhooks/sms; signed with
-- the installed key unless a signature is given ('' = no signature headers).
-- Returns the status and the problem code or the result.
CREATE FUNCTION pg_temp.hook(body text, ts text DEFAULT NULL, sig text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    h jsonb := '{"content-type": "application/json"}';
    r record;
BEGIN
    ts := coalesce(ts, extract(epoch FROM now())::bigint::text);
    IF sig IS DISTINCT FROM '' THEN
        h := h || jsonb_build_object('x-namaskah-timestamp', ts,
            'x-namaskah-signature', coalesce(sig, namaskah.webhook_signature(ts, body)));
    END IF;
    SELECT * INTO r FROM namaskah.handle_request('POST', '/api/webhooks/sms', '', h, body,
        '192.0.2.82', 'regress-webhooks');
    RETURN r.status || ' ' || coalesce(r.body::jsonb->>'code', r.body::jsonb->>'result')
        || coalesce(' ' || (r.body::jsonb->'errors')::text, '');
END
$f$;

-- A user with three verifications: one to complete, one cancelled, one expired.
SELECT namaskah.create_user('hook-user@example.test', 'hook password 1234') AS uid \gset
SELECT set_config('request.jwt.claims', json_build_object('sub', :'uid', 'role', 'user')::text, false) IS NOT NULL AS as_user;
SET ROLE namaskah_api;
SELECT v->>'phone_number' AS num_a, v->>'id' AS id_a
FROM api.verifications_create('{"body": {"service": "telegram"}}') v \gset
SELECT v->>'phone_number' AS num_b, v->>'id' AS id_b
FROM api.verifications_create('{"body": {"service": "signal"}}') v \gset
SELECT v->>'phone_number' AS num_c, v->>'id' AS id_c
FROM api.verifications_create('{"body": {"service": "viber"}}') v \gset
SELECT (api.verifications_cancel(jsonb_build_object('params', jsonb_build_object('id', :'id_b'))))->>'status';
RESET ROLE;
UPDATE namaskah.verifications SET expires_at = now() - interval '1 second' WHERE id = :'id_c';

SELECT format('{"message_id":"m-1","to":"%s","from":"+15550100999","text":"Your Telegram code: 48291. Do not share it."}', :'num_a') AS good \gset

-- Unsigned, half-signed, malformed or tampered: 401, nothing recorded.
SELECT pg_temp.hook(:'good', NULL, '');
SELECT pg_temp.hook(:'good', 'yesterday');
SELECT pg_temp.hook(:'good', NULL, 'v1=' || repeat('0', 64));
SELECT pg_temp.hook(:'good', NULL, 'sha256=abc');
SELECT pg_temp.hook(replace(:'good', '48291', '11111'), extract(epoch FROM now())::bigint::text,
    namaskah.webhook_signature(extract(epoch FROM now())::bigint::text, :'good'));
-- Signed for another timestamp than the one sent.
SELECT pg_temp.hook(:'good', extract(epoch FROM now())::bigint::text,
    namaskah.webhook_signature((extract(epoch FROM now())::bigint - 1)::text, :'good'));
-- Correctly signed but stale or from the future (tolerance 300 s).
SELECT pg_temp.hook(:'good', (extract(epoch FROM now())::bigint - 301)::text);
SELECT pg_temp.hook(:'good', (extract(epoch FROM now())::bigint + 301)::text);
SELECT count(*) AS recorded FROM namaskah.webhook_messages;
SELECT status FROM namaskah.verifications WHERE id = :'id_a';

-- Signed, but the body breaks the declared schema.
SELECT pg_temp.hook(format('{"message_id":"m-x","to":"%s","text":"1234","status":"completed"}', :'num_a'));
SELECT pg_temp.hook('{"message_id":"m x","to":"555","text":5}');
SELECT pg_temp.hook('[1,2]');

-- The good call: accepted, completes; within the tolerance is fine; an
-- upper-case signature among several values is accepted.
SELECT pg_temp.hook(:'good', (extract(epoch FROM now())::bigint - 200)::text,
    'v1=' || repeat('f', 64) || ', v1=' || upper(substr(namaskah.webhook_signature(
        (extract(epoch FROM now())::bigint - 200)::text, :'good'), 4)));
SELECT status, code, completed_at IS NOT NULL AS completed_at FROM namaskah.verifications WHERE id = :'id_a';
-- The same message again, even re-signed with a fresh timestamp: replayed.
SELECT pg_temp.hook(:'good');
SELECT message_id, outcome FROM namaskah.webhook_messages ORDER BY message_id;

-- Cancelled and expired verifications do not complete; a number with no
-- verification, a text without a code, codes of the wrong length.
SELECT pg_temp.hook(format('{"message_id":"m-2","to":"%s","text":"code 1234"}', :'num_b'));
SELECT pg_temp.hook(format('{"message_id":"m-3","to":"%s","text":"code 1234"}', :'num_c'));
SELECT id = :'id_b' AS b, status, code FROM namaskah.verifications
WHERE id IN (:'id_b', :'id_c') ORDER BY status;
SELECT pg_temp.hook('{"message_id":"m-4","to":"+15550109998","text":"code 1234"}');
SET ROLE namaskah_api;
SELECT v->>'phone_number' AS num_d, v->>'id' AS id_d
FROM api.verifications_create('{"body": {"service": "line"}}') v \gset
RESET ROLE;
SELECT pg_temp.hook(format('{"message_id":"m-5","to":"%s","text":"Welcome!\nNo code here, call 123."}', :'num_d'));
SELECT pg_temp.hook(format('{"message_id":"m-6","to":"%s","text":"ref 123456789 only"}', :'num_d'));
SELECT pg_temp.hook(format('{"message_id":"m-7","to":"%s","text":"G-7731 is your code\n(valid 10 min)"}', :'num_d'));
SELECT status, code FROM namaskah.verifications WHERE id = :'id_d';
-- Control characters other than line breaks are refused in the text.
SELECT pg_temp.hook(format('{"message_id":"m-8","to":"%s","text":"code \u001b[31m1234"}', :'num_d'));

-- Replay records outlive the tolerance window and are purged after it.
SELECT bool_and(expires_at > now() + interval '10 minutes') AS kept_long_enough FROM namaskah.webhook_messages;
UPDATE namaskah.webhook_messages SET expires_at = now() - interval '1 second';
SELECT pg_temp.hook('{"message_id":"m-9","to":"+15550109998","text":"x"}');
SELECT message_id FROM namaskah.webhook_messages;

-- The key never reaches the endpoint role.
SET ROLE namaskah_api;
SELECT namaskah.derive_key('webhook');
SELECT namaskah.webhook_signature('1', 'x');
SELECT count(*) FROM namaskah.webhook_messages;
RESET ROLE;
SELECT method, path_template, auth, required_role FROM namaskah.routes
WHERE path_template = '/api/webhooks/sms';

-- Clean up: the user (and its verifications), message ids, the secret.
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS cleared;
DELETE FROM namaskah.users WHERE email_key = 'hook-user@example.test';
DELETE FROM namaskah.webhook_messages;
DELETE FROM namaskah.app_secret;
INSERT INTO namaskah.app_secret SELECT * FROM saved_secret;
DELETE FROM namaskah.rate_limit_state WHERE key LIKE '%192.0.2.82%';
