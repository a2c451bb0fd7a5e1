-- settings.sql — every setting is declared once (namaskah.setting_definitions)
-- and checked when written: each declared setting is given values outside
-- its declaration and must refuse every one with 22023 and a hint naming
-- what it takes; an unknown name is 42704; setting() gives the operator's
-- value, else the declared default, and reset_setting goes back to it.
-- (what earlier tests left set is put aside and put back at the end)
CREATE TEMP TABLE saved AS SELECT * FROM namaskah.settings;
DELETE FROM namaskah.settings;
SELECT name, type, min_value, max_value, default_value FROM namaskah.setting_definitions ORDER BY name;

CREATE TEMP TABLE tried (name text, value text, sqlstate text, hint text);
DO $$
DECLARE
    d record;
    bad text;
    state text;
    hint text;
BEGIN
    FOR d IN SELECT * FROM namaskah.setting_definitions ORDER BY name LOOP
        FOREACH bad IN ARRAY CASE d.type
            WHEN 'integer' THEN ARRAY[(d.min_value - 1)::text, (d.max_value + 1)::text, 'abc', '1.5', '', ' 7']
            WHEN 'boolean' THEN ARRAY['yes', 'ON', '', 'true']
            WHEN 'origins' THEN ARRAY['*', 'https://a.example/path', 'ftp://a.example', 'https://a.example,*']
            ELSE ARRAY[repeat('x', 256), E'line\nbreak'] END
        LOOP
            BEGIN
                PERFORM namaskah.set_setting(d.name, bad);
                INSERT INTO tried VALUES (d.name, bad, 'accepted', NULL);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, hint = PG_EXCEPTION_HINT;
                INSERT INTO tried VALUES (d.name, bad, state, hint);
            END;
        END LOOP;
    END LOOP;
END
$$;
-- every bad value of every setting refused, with the same SQLSTATE
SELECT count(*) AS tried, count(*) FILTER (WHERE sqlstate = '22023') AS refused_22023,
       count(DISTINCT name) AS settings_tried,
       (SELECT count(*) FROM namaskah.setting_definitions) AS settings_declared
FROM tried;
SELECT name, value, sqlstate FROM tried WHERE sqlstate <> '22023';
-- the hints name the bounds
SELECT DISTINCT name, hint FROM tried ORDER BY name;
SELECT count(*) AS rows_written FROM namaskah.settings;

-- unknown names, whichever way they come
\set VERBOSITY default
SELECT namaskah.set_setting('jwt.expire_minute', '10');
SELECT namaskah.setting('jwt.expire_minute');
\set VERBOSITY terse
INSERT INTO namaskah.settings (name, value) VALUES ('nonsense.setting', '1');
-- direct writes are checked too
SELECT namaskah.set_setting('jwt.expire_minutes', '60');
UPDATE namaskah.settings SET value = '0' WHERE name = 'jwt.expire_minutes';
SELECT namaskah.reset_setting('jwt.expire_minutes');
INSERT INTO namaskah.settings (name, value) VALUES ('jwt.leeway_seconds', '-1');

-- values at the bounds pass; setting() gives them, then the default again
SELECT namaskah.setting('jwt.expire_minutes') AS default_lifetime,
       namaskah.setting('jwt.issuer') IS NULL AS issuer_unset;
SELECT namaskah.set_setting('jwt.expire_minutes', '527040'),
       namaskah.set_setting('jwt.leeway_seconds', '0'),
       namaskah.set_setting('cors.allowed_origins', 'https://a.example, http://localhost:3000'),
       namaskah.set_setting('audit.enabled', 'on'),
       namaskah.set_setting('jwt.issuer', 'https://issuer.example');
SELECT namaskah.setting('jwt.expire_minutes') AS lifetime, namaskah.jwt_lifetime_seconds() AS seconds,
       namaskah.setting('jwt.leeway_seconds') AS leeway, namaskah.setting('jwt.issuer') AS issuer;
SELECT namaskah.reset_setting(name) FROM namaskah.settings ORDER BY name;
SELECT namaskah.setting('jwt.expire_minutes') AS lifetime_again, namaskah.jwt_lifetime_seconds() AS seconds_again,
       count(*) AS rows_left
FROM namaskah.settings;

-- another backend sees a change at its next statement (the per-backend
-- cache is dropped by the change's invalidation), and a reset
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('other', format('dbname=%s user=%s port=%s host=%s',
    current_database(), current_user, current_setting('port'),
    split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT * FROM dblink('other', $q$SELECT namaskah.setting('verification.ttl_minutes')$q$) AS t(v text);
SELECT namaskah.set_setting('verification.ttl_minutes', '45');
SELECT * FROM dblink('other', $q$SELECT namaskah.setting('verification.ttl_minutes')$q$) AS t(v text);
SELECT namaskah.reset_setting('verification.ttl_minutes');
SELECT * FROM dblink('other', $q$SELECT namaskah.setting('verification.ttl_minutes')$q$) AS t(v text);
SELECT dblink_disconnect('other');
DROP EXTENSION dblink;

-- the API role may read settings, not write them
SELECT has_function_privilege('namaskah_api', 'namaskah.setting(text)', 'EXECUTE') AS api_reads,
       has_function_privilege('namaskah_api', 'namaskah.set_setting(text, text)', 'EXECUTE') AS api_writes,
       has_function_privilege('namaskah_api', 'namaskah.reset_setting(text)', 'EXECUTE') AS api_resets,
       has_table_privilege('namaskah_api', 'namaskah.setting_definitions', 'SELECT') AS api_reads_table;

INSERT INTO namaskah.settings SELECT * FROM saved;
