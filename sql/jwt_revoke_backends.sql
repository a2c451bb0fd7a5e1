\set VERBOSITY terse
-- Revocation across backends: a second backend (through dblink) keeps its
-- keys, revocation sets and "not revoked" memory in memory, and must still
-- see every revocation committed here before its next transaction, and
-- even before its next call inside an open transaction; with the sets
-- over their size cap (index probes) the same holds. What this test
-- commits (a key, revocations, a setting) is removed at the end.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('other', format('dbname=%s user=%s port=%s host=%s',
    current_database(), current_user, current_setting('port'),
    split_part(current_setting('unix_socket_directories'), ',', 1)));

-- the other backend's verdict for a token
CREATE FUNCTION pg_temp.there(t text) RETURNS text LANGUAGE sql AS $$
    SELECT r FROM dblink('other', format(
        'SELECT reason FROM namaskah.jwt_verify_strict(%L, now())', t)) AS x(r text)
$$;

SELECT namaskah.install_signing_key('Qm7vR2xK9tL4wP8nB3cZ6hJ1dF5gS0aY') AS kid \gset
-- newest key signs: make this one the newest for the duration
UPDATE namaskah.signing_keys SET created_at = now() + interval '1 day' WHERE kid = :'kid';
SELECT namaskah.jwt_issue('{"sub":"xb-alice"}') AS a1,
       namaskah.jwt_issue('{"sub":"xb-alice"}') AS a2,
       namaskah.jwt_issue('{"sub":"xb-bob"}') AS b1,
       namaskah.jwt_issue('{"sub":"xb-carol"}') AS c1 \gset
SELECT jti AS a1_jti FROM (SELECT claims->>'jti' AS jti FROM namaskah.jwt_verify_strict(:'a1', now())) q \gset
SELECT jti AS c1_jti FROM (SELECT claims->>'jti' AS jti FROM namaskah.jwt_verify_strict(:'c1', now())) q \gset

-- the other backend has seen (and remembers) every token as good
SELECT pg_temp.there(:'a1') AS a1, pg_temp.there(:'a2') AS a2, pg_temp.there(:'b1') AS b1;
SELECT pg_temp.there(:'a1') AS a1_again;

-- logout here, committed: the other backend's next transaction sees it
SELECT namaskah.revoke_token(:'a1_jti', now() + interval '1 hour');
SELECT pg_temp.there(:'a1') AS a1, pg_temp.there(:'a2') AS a2, pg_temp.there(:'b1') AS b1;

-- inside an open transaction of the other backend: seen at its next call
SELECT dblink_exec('other', 'BEGIN');
SELECT pg_temp.there(:'b1') AS b1_before;
SELECT namaskah.revoke_user_tokens('xb-bob', now() + interval '1 second');
SELECT pg_temp.there(:'b1') AS b1_after, pg_temp.there(:'a2') AS a2;
SELECT dblink_exec('other', 'COMMIT');

-- purging an entry is seen too (the set is reloaded, not only added to)
DELETE FROM namaskah.user_token_cutoff WHERE user_id = 'xb-bob';
SELECT pg_temp.there(:'b1') AS b1_purged;

-- over the size cap the other backend probes the index: same guarantees
SELECT namaskah.set_setting('jwt.revocation_cache_rows', '0');
SELECT pg_temp.there(:'c1') AS c1, pg_temp.there(:'a1') AS a1;
SELECT namaskah.revoke_token(:'c1_jti', now() + interval '1 hour');
SELECT pg_temp.there(:'c1') AS c1_probed;
DELETE FROM namaskah.settings WHERE name = 'jwt.revocation_cache_rows';
SELECT pg_temp.there(:'c1') AS c1_cached, pg_temp.there(:'a2') AS a2;

-- clean up what was committed
DELETE FROM namaskah.revoked_tokens WHERE jti IN (:'a1_jti', :'c1_jti');
DELETE FROM namaskah.user_token_cutoff WHERE user_id LIKE 'xb-%';
DELETE FROM namaskah.signing_keys WHERE kid = :'kid';
SELECT pg_temp.there(:'a2') AS a2_key_gone;
SELECT dblink_disconnect('other');
DROP EXTENSION dblink;
