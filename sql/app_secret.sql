\set VERBOSITY terse
-- namaskah.app_secret, install_app_secret, derive_key, pseudonymize.
-- Whatever secret another test installed is set aside and put back at the end.
CREATE TEMP TABLE saved_secret AS SELECT * FROM namaskah.app_secret;
DELETE FROM namaskah.app_secret;

-- Without a secret nothing can be derived: 55000, not a crash or a NULL.
\set VERBOSITY sqlstate
SELECT namaskah.pseudonymize('203.0.113.7');
SELECT namaskah.derive_key('pseudonym');
\set VERBOSITY terse
SELECT namaskah.pseudonymize('203.0.113.7');

-- Weak secrets are refused with 22023, and the message never shows them.
CREATE TEMP TABLE refused (label text, sqlstate text, message text, leaks boolean);
DO $$
DECLARE
    v record;
    st text;
    msg text;
BEGIN
    FOR v IN SELECT * FROM (VALUES
        ('changeme', 'changeme'),
        ('secret', 'secret'),
        ('placeholder, any case', 'YOUR-SECRET-KEY-HERE'),
        ('underscored placeholder', 'your_secret_key'),
        ('long placeholder', 'your-secret-key-here-please-change-it-0123456789'),
        ('placeholder inside', 'Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge2changemeXY'),
        ('31 characters', 'Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge'),
        ('one character repeated', repeat('k', 64)),
        ('nine distinct characters', repeat('abcdefghi', 5)),
        ('alphabet run', 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJ'),
        ('control character', E'Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge2\n'),
        ('empty', '')) AS t(label, value)
    LOOP
        BEGIN
            PERFORM namaskah.install_app_secret(v.value);
            INSERT INTO refused VALUES (v.label, 'accepted', NULL, NULL);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            -- (the fixed words "application secret" do not count as a leak)
            INSERT INTO refused VALUES (v.label, st, msg,
                v.value <> '' AND
                strpos(replace(msg, 'application secret', ''), v.value) > 0);
        END;
    END LOOP;
END
$$;
SELECT * FROM refused;
SELECT count(*) AS rows_after_refusals FROM namaskah.app_secret;

-- A good secret: the fingerprint is hex(SHA-256(secret)[0:8]), installing
-- it again is a no-op.
SELECT namaskah.install_app_secret('Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge2') AS fingerprint,
       encode(substr(sha256('Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge2'::bytea), 1, 8), 'hex') AS expected;
CREATE TEMP TABLE first_install AS SELECT * FROM namaskah.app_secret;
SELECT namaskah.install_app_secret('Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge2') AS again;
SELECT (SELECT row(a.*)::text FROM namaskah.app_secret a)
     = (SELECT row(f.*)::text FROM first_install f) AS unchanged,
       (SELECT count(*) FROM namaskah.app_secret) AS rows;

-- derive_key: HMAC-SHA256(secret, 'namaskah:' || purpose), one key per purpose.
SELECT encode(namaskah.derive_key('pseudonym'), 'hex') AS pseudonym_key,
       namaskah.derive_key('pseudonym')
         = namaskah.mask_hmac_sha256('Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge2'::bytea,
                                     'namaskah:pseudonym'::bytea) AS is_hmac,
       namaskah.derive_key('webhook') <> namaskah.derive_key('pseudonym') AS per_purpose;

-- HMAC-SHA256 itself (RFC 4231 test case 2).
SELECT encode(namaskah.mask_hmac_sha256('Jefe'::bytea, 'what do ya want for nothing?'::bytea), 'hex') AS rfc4231;

-- pseudonymize: ps_ and 16 hex digits, stable, distinct per value.
SELECT v, namaskah.pseudonymize(v) AS pseudonym
FROM (VALUES ('203.0.113.7'), ('203.0.113.8'), ('user-42'), (''), ('नमस्ते')) AS t(v);
SELECT namaskah.pseudonymize('203.0.113.7') = namaskah.pseudonymize('203.0.113.7') AS stable,
       namaskah.pseudonymize('203.0.113.7') ~ '^ps_[0-9a-f]{16}$' AS shape,
       namaskah.pseudonymize(NULL) IS NULL AS strict;

-- A different secret replaces the first, and every pseudonym changes.
SELECT namaskah.install_app_secret('q0VJk8nB+Xc2W/7yLm4Rz9Tt1Hs6Pe3A') AS new_fingerprint;
SELECT namaskah.pseudonymize('203.0.113.7') AS pseudonym_after_change,
       (SELECT count(*) FROM namaskah.app_secret) AS rows;

-- Privileges: the secret is the owner's alone; the API role may only
-- pseudonymize.
SELECT has_table_privilege('namaskah_api', 'namaskah.app_secret', 'SELECT') AS api_select,
       has_table_privilege('namaskah_frontend', 'namaskah.app_secret', 'SELECT') AS frontend_select,
       (SELECT tableowner FROM pg_tables WHERE schemaname = 'namaskah' AND tablename = 'app_secret') AS owner;
SELECT p.oid::regprocedure AS function, p.prosecdef AS definer,
       has_function_privilege('namaskah_api', p.oid, 'EXECUTE') AS api,
       has_function_privilege('namaskah_frontend', p.oid, 'EXECUTE') AS frontend,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public,
       array_to_string(p.proconfig, ',') AS config
FROM pg_proc p
WHERE p.pronamespace = 'namaskah'::regnamespace
  AND p.proname IN ('install_app_secret', 'derive_key', 'pseudonymize',
                    'mask_hmac_sha256', 'check_secret_strength')
ORDER BY 1::text;
SET ROLE namaskah_api;
SELECT namaskah.pseudonymize('203.0.113.7') AS as_api;
SELECT namaskah.derive_key('pseudonym');
SELECT * FROM namaskah.app_secret;
SELECT namaskah.install_app_secret('Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge2');
RESET ROLE;

-- Put back whatever was there before.
DELETE FROM namaskah.app_secret;
INSERT INTO namaskah.app_secret SELECT * FROM saved_secret;
DROP TABLE saved_secret, refused, first_install;
