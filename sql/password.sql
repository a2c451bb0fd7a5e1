\set VERBOSITY terse
-- Passwords: scrypt hashes with their parameters, verification, malformed
-- and missing hashes, rehash decisions. A low cost (ln=4) keeps it fast;
-- everything runs in a rolled-back transaction.
\set ON_ERROR_ROLLBACK on
BEGIN;
SELECT namaskah.set_setting('password.scrypt_ln', '4');

SELECT namaskah.password_hash('correct horse battery staple') AS h \gset
SELECT :'h' ~ '^\$scrypt\$ln=4,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$' AS format_ok;
-- a fresh random salt every time
SELECT namaskah.password_hash('same') <> namaskah.password_hash('same') AS salted;
SELECT namaskah.password_verify('correct horse battery staple', :'h') AS right_password,
       namaskah.password_verify('correct horse battery stapler', :'h') AS wrong_password,
       namaskah.password_verify('', :'h') AS empty_password,
       namaskah.password_verify(NULL, :'h') AS null_password;
-- unknown account (NULL hash) and malformed hashes: false, no error
SELECT namaskah.password_verify('x', NULL) AS null_hash,
       namaskah.password_verify('x', '') AS empty_hash,
       namaskah.password_verify('x', 'plaintext') AS plain,
       namaskah.password_verify('x', '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW') AS bcrypt,
       namaskah.password_verify('x', '$scrypt$ln=99,r=8,p=1$AQIDBAUGBwgJCgsMDQ4PEA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA') AS huge_cost,
       namaskah.password_verify('x', substr(:'h', 1, 40)) AS truncated;
-- non-ASCII passwords are bytes like any other
SELECT namaskah.password_verify('pässwörd ✓', namaskah.password_hash('pässwörd ✓')) AS unicode;
-- the stored parameters are used, so old hashes keep verifying
SELECT namaskah.set_setting('password.scrypt_ln', '5');
SELECT namaskah.password_verify('correct horse battery staple', :'h') AS old_hash_still_ok;
SELECT namaskah.password_needs_rehash(:'h') AS old_needs_rehash,
       namaskah.password_needs_rehash(namaskah.password_hash('y')) AS new_needs_rehash,
       namaskah.password_needs_rehash('junk') AS junk_needs_rehash;
SELECT namaskah.password_hash('y') ~ '^\$scrypt\$ln=5,' AS new_cost_used;
-- an out-of-range setting is refused when set (22023); the default stays
SELECT namaskah.set_setting('password.scrypt_r', '0');
SELECT namaskah.password_hash('z') ~ ',r=8,' AS default_r_used;
DELETE FROM namaskah.settings WHERE name = 'password.scrypt_r';
SELECT namaskah.password_hash(NULL) IS NULL AS null_in;
SELECT has_function_privilege('namaskah_api', 'namaskah.password_verify(text, text)', 'EXECUTE') AS api_verify,
       has_function_privilege('namaskah_frontend', 'namaskah.password_verify(text, text)', 'EXECUTE') AS frontend_verify;
ROLLBACK;
