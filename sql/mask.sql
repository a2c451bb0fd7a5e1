\set VERBOSITY terse
-- namaskah.mask_* and the sensitive_keys table.

SELECT v, namaskah.mask_email(v) AS masked
FROM (VALUES ('john.doe@example.com'), ('a@b.co'), ('x@mail.example.co.uk'),
             ('  padded@example.org '), ('root@localhost'), ('élise@bücher.de'),
             ('😀@example.com'), ('no-at-sign'), ('@example.com'), ('user@'),
             ('')) AS t(v);

SELECT v, namaskah.mask_phone(v) AS masked
FROM (VALUES ('+14155552671'), ('+1 (415) 555-2671'), ('020 7946 0958'),
             ('06.12.34.56.78'), ('+91 98765 43210'), ('5552671'), ('123456'),
             ('+1234567890123456'), ('call me'), ('')) AS t(v);

-- Cards: only Luhn-valid 12-19 digit numbers keep their last four.
SELECT v, namaskah.mask_card(v) AS masked
FROM (VALUES ('4111111111111111'), ('4111 1111 1111 1111'), ('4111-1111-1111-1111'),
             ('378282246310005'), ('6011000990139424'), ('4111111111111112'),
             ('4111 1111 1111 1112'), ('1234567812345678'), ('41111111111'),
             ('41111111111111111111'), ('4111  1111 1111 1111'), ('card'),
             ('')) AS t(v);

SELECT v, namaskah.mask_token(v) AS masked
FROM (VALUES
    ('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'),
    ('Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'),
    ('bearer   sk_live_0123456789abcdefghijklmn'),
    ('Basic dXNlcjpwYXNz'),
    ('ghp_abcdefghijklmnopqrstuvwxyz0123456789'),
    ('short-key'),
    ('Bearer'),
    ('')) AS t(v);

SELECT v, namaskah.mask_ip(v) AS masked
FROM (VALUES ('203.0.113.77'::inet), ('203.0.113.77/32'), ('10.1.2.3/8'),
             ('2001:db8:85a3:1234:5678::1'), ('::1'),
             ('2001:db8::/32'), ('::ffff:192.0.2.77')) AS t(v);

-- mask_partial counts characters, never splits one, hides all when asked
-- to keep everything.
SELECT namaskah.mask_partial('abcdefgh', 2, 2) AS ab_gh,
       namaskah.mask_partial('abcdefgh', 0, 3, '#') AS keep_end,
       namaskah.mask_partial('abcdefgh', 4, 4) AS all_kept_means_none,
       namaskah.mask_partial('abcdefgh', 2, 2, '') AS empty_fill,
       namaskah.mask_partial('abcdefgh', 2, 2, 'xy') AS two_char_fill,
       namaskah.mask_partial('', 1, 1) AS empty;
SELECT namaskah.mask_partial('héllo wörld', 2, 2) AS latin,
       namaskah.mask_partial('नमस्ते दुनिया', 1, 1, '•') AS devanagari,
       namaskah.mask_partial('😀😁😂😃', 1, 1) AS emoji;
SELECT namaskah.mask_partial('abc', -1, 1);
SELECT namaskah.mask_partial('abc', 1, 1, NULL) IS NULL AS strict;

-- mask_text: free text with embedded personal data masked in place.
SELECT namaskah.mask_text(v) AS masked
FROM (VALUES
    ('mail john.doe@example.com, or call +1 (415) 555-2671 today'),
    ('uk 020 7946 0958; card 4111 1111 1111 1111; not a card 4111 1111 1111 1112'),
    ('at 2026-11-27 18:01:27 from 192.168.100.200, id 1764266487'),
    ('Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijklmnopqrst'),
    ('नमस्ते a@b.in 😀 ok@bücher.de'),
    ('')) AS t(v);

-- mask_jsonb: sensitive keys at any depth, any case; free text elsewhere.
SELECT jsonb_pretty(namaskah.mask_jsonb('{
  "user": {"id": 42, "Email": "john.doe@example.com", "PASSWORD": "hunter2",
           "phone_number": "+14155552671", "name": "John"},
  "auth": {"Authorization": "Bearer abc.def.ghi", "api_key": 123456,
           "refresh_token": {"value": "r-0123456789", "ttl": 3600, "rotating": true}},
  "payment": {"card_number": "4111 1111 1111 1111", "cvv": "123", "pin": 1234,
              "note": "card 4111111111111111 on file", "amount": 4111111111111112},
  "message": "reach me at a.b@c.org or +44 20 7946 0958",
  "emails": ["x@y.com", "z@w.io", "not an email", null, 7],
  "nested": [[{"secret": ["s1", {"deeper": "s2"}], "ok": "kept"}]],
  "card_like": 4111111111111111,
  "version": "1.2.3",
  "nothing": null
}'));

-- Arrays of emails, scalars at the root, empty containers.
SELECT namaskah.mask_jsonb('["alice@example.com", "bob@example.org", "carol@x.io"]') AS emails,
       namaskah.mask_jsonb('"john@example.com"') AS root_string,
       namaskah.mask_jsonb('4111111111111111') AS root_card,
       namaskah.mask_jsonb('4111111111111112') AS root_not_luhn,
       namaskah.mask_jsonb('true') AS root_bool,
       namaskah.mask_jsonb('null') AS root_null,
       namaskah.mask_jsonb('{}') AS empty_object,
       namaskah.mask_jsonb('[]') AS empty_array;

-- Keys are scanned as free text too; a sensitive key whose value is null
-- stays null.
SELECT namaskah.mask_jsonb('{"john@example.com": 1, "token": null, "Code": "123456"}') AS keys;

-- Deeply nested and large documents.
SELECT namaskah.mask_jsonb((repeat('{"a":', 200) || '{"password":"x","e":"a@b.co"}' || repeat('}', 200))::jsonb)::text
       = repeat('{"a": ', 200) || '{"e": "a***@b***.co", "password": "***"}' || repeat('}', 200) AS deep;
SELECT jsonb_array_length(m) AS n, m -> 0 AS first, m -> 9999 AS last
FROM (SELECT namaskah.mask_jsonb(jsonb_agg('user' || g || '@example.com')) AS m
      FROM generate_series(1, 10000) g) s;

-- The key list is a table; operators can extend it.
BEGIN;
INSERT INTO namaskah.sensitive_keys VALUES ('nickname');
SELECT namaskah.mask_jsonb('{"NickName": "Johnny", "name": "John"}') AS with_extra_key;
ROLLBACK;
SELECT namaskah.mask_jsonb('{"NickName": "Johnny"}') AS after_rollback;
INSERT INTO namaskah.sensitive_keys VALUES ('MixedCase');
SELECT count(*) AS missing_seed_keys
FROM (VALUES ('password'), ('secret'), ('token'), ('access_token'), ('refresh_token'),
             ('authorization'), ('api_key'), ('apikey'), ('phone'), ('phone_number'),
             ('email'), ('card'), ('card_number'), ('cvv'), ('pin'), ('code')) AS k(key)
WHERE NOT EXISTS (SELECT FROM namaskah.sensitive_keys s WHERE s.key = k.key);
SELECT namaskah.mask_jsonb_keys('{"a": "x", "B": "y", "c": "z@example.com"}', ARRAY['a', 'b', NULL]) AS explicit_keys;

-- Privileges: the API role may call every mask function but cannot read or
-- change the key table; mask_jsonb works for it nonetheless.
SELECT p.oid::regprocedure AS function,
       has_function_privilege('namaskah_api', p.oid, 'EXECUTE') AS api,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public
FROM pg_proc p
WHERE p.pronamespace = 'namaskah'::regnamespace AND p.proname LIKE 'mask\_%'
ORDER BY 1::text;
SELECT has_table_privilege('namaskah_api', 'namaskah.sensitive_keys', 'SELECT') AS api_select,
       has_table_privilege('namaskah_api', 'namaskah.sensitive_keys', 'INSERT') AS api_insert;
SET ROLE namaskah_api;
SELECT namaskah.mask_jsonb('{"password": "p", "email": "a@b.co"}') AS as_api;
SELECT * FROM namaskah.sensitive_keys;
RESET ROLE;

-- Volatility as documented.
SELECT proname, provolatile, proisstrict, proparallel
FROM pg_proc
WHERE pronamespace = 'namaskah'::regnamespace AND proname LIKE 'mask\_%'
ORDER BY proname;
