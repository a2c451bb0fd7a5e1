-- namaskah install script, part 00: roles and schemas.
-- (extension/sql/*.sql are concatenated in name order into
-- namaskah--VERSION.sql, VERSION from namaskah.control; each part holds one
-- concern.)

\echo Use "CREATE EXTENSION namaskah" to load this file. \quit

-- Roles are cluster-wide, so they are created only when missing and are not
-- dropped with the extension.
--   namaskah_owner     owns every table and the SECURITY DEFINER pipeline;
--                      never logs in.
--   namaskah_api       the identity endpoint functions run as: subject to
--                      row-level security, only the grants it needs.
--   namaskah_frontend  what namaskahd logs in as (LOGIN and its password are
--                      set by the operator scripts): may only EXECUTE
--                      namaskah.handle_request.
--   namaskah_auditor   owns the audit log: the pipeline may only append to
--                      it, through one function; nobody may change it.
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['namaskah_owner', 'namaskah_api', 'namaskah_frontend', 'namaskah_auditor']
    LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$roles$;

-- The extension's own schema (namaskah) is created by CREATE EXTENSION from
-- the control file. Endpoint functions live in api.
CREATE SCHEMA api;
COMMENT ON SCHEMA api IS 'Namaskah API endpoints: one function per route, run as namaskah_api';

GRANT USAGE ON SCHEMA @extschema@ TO namaskah_owner, namaskah_api, namaskah_frontend, namaskah_auditor;
GRANT USAGE ON SCHEMA api TO namaskah_owner, namaskah_api;

-- The per-backend caches (signing keys, settings, revocations, the
-- pseudonym key, routes, rate-limit policies) are kept until their table
-- changes. Plain DML sends no invalidation by itself, so a statement
-- trigger with this function on each of those tables asks for one: a
-- relcache invalidation of the table, sent to every backend at commit and
-- applied here at the next command (extension/namaskah.c).
CREATE FUNCTION @extschema@.cache_invalidate()
RETURNS trigger
AS 'MODULE_PATHNAME', 'nk_sql_cache_invalidate'
LANGUAGE C;
ALTER FUNCTION @extschema@.cache_invalidate() OWNER TO namaskah_owner;

-- Settings that operators tune at run time without a restart (token lifetime,
-- leeway, CORS ...). Secrets never live here. Each setting is declared once,
-- in setting_definitions: type, bounds, default, meaning. settings holds only
-- what an operator changed, checked against the declaration when written
-- (settings_check: 42704 for an unknown name, 22023 with the bounds in the
-- hint for a bad value). Every reader goes through setting(name) in SQL or
-- nk_setting_text/nk_setting_int in C (extension/settings.c), which give the
-- operator's value or the declared default; nobody parses or bounds a value
-- again. A table rather than custom GUCs: a change is transactional, needs
-- no superuser ALTER SYSTEM or reload, reaches every backend through the
-- same invalidation as the signing keys, and is seen and dumped with the
-- data (docs/operations.md, "Settings").
CREATE TABLE @extschema@.setting_definitions (
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.]{0,62}$'),
    type text NOT NULL CHECK (type IN ('integer', 'boolean', 'text', 'origins')),
    min_value bigint,
    max_value bigint,
    default_value text,
    description text NOT NULL,
    CHECK ((type = 'integer') = (min_value IS NOT NULL AND max_value IS NOT NULL))
);
ALTER TABLE @extschema@.setting_definitions OWNER TO namaskah_owner;

INSERT INTO @extschema@.setting_definitions
    (name, type, min_value, max_value, default_value, description)
VALUES
    ('audit.enabled', 'boolean', NULL, NULL, 'on',
     'on or off: write an audit record per request (off only for benchmarks)'),
    ('cors.allowed_origins', 'origins', NULL, NULL, '',
     'comma-separated origins allowed by CORS, like https://app.example.com (empty: CORS off)'),
    ('jwt.expire_minutes', 'integer', 1, 527040, '480',
     'lifetime of the tokens a login issues, in minutes'),
    ('jwt.key_grace_minutes', 'integer', 0, 1054080, NULL,
     'minutes a retired signing key still verifies tokens (unset: jwt.expire_minutes + 5)'),
    ('jwt.leeway_seconds', 'integer', 0, 3600, '30',
     'clock difference allowed when checking exp, nbf and iat, in seconds'),
    ('jwt.issuer', 'text', NULL, NULL, NULL,
     'iss claim put into tokens and required of them (unset: none)'),
    ('jwt.audience', 'text', NULL, NULL, NULL,
     'aud claim put into tokens and required of them (unset: none)'),
    ('jwt.revocation_cache_rows', 'integer', 0, 1000000, '100000',
     'revocation tables up to this many rows are held in each backend''s memory'),
    ('password.scrypt_ln', 'integer', 1, 20, '14',
     'scrypt cost of new password hashes: log2 of N'),
    ('password.scrypt_r', 'integer', 1, 32, '8', 'scrypt block size r of new password hashes'),
    ('password.scrypt_p', 'integer', 1, 16, '1', 'scrypt parallelism p of new password hashes'),
    ('security.event_threshold', 'integer', 1, 1000000, '10',
     'per actor and minute: from this many events on, the admin API lists the actor'),
    ('security.rollup_lag_seconds', 'integer', 0, 3600, '5',
     'security_rollup leaves records younger than this for its next run'),
    ('verification.ttl_minutes', 'integer', 1, 10080, '20',
     'minutes a verification stays pending before it expires'),
    ('webhook.tolerance_seconds', 'integer', 1, 3600, '300',
     'how far a webhook timestamp may be from the server clock, in seconds');

CREATE TABLE @extschema@.settings (
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.]{0,62}$'),
    value text NOT NULL
);
ALTER TABLE @extschema@.settings OWNER TO namaskah_owner;

-- A value as its declaration allows, or an error that says what is allowed.
CREATE FUNCTION @extschema@.settings_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d @extschema@.setting_definitions;
    allowed text;
    valid boolean;
BEGIN
    SELECT * INTO d FROM @extschema@.setting_definitions WHERE name = NEW.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown setting "%"', NEW.name
            USING ERRCODE = 'undefined_object',
                  HINT = 'The settings are: ' || (SELECT string_agg(name, ', ' ORDER BY name)
                                                  FROM @extschema@.setting_definitions) || '.';
    END IF;
    allowed := CASE d.type
        WHEN 'integer' THEN format('a whole number from %s to %s', d.min_value, d.max_value)
        WHEN 'boolean' THEN 'on or off'
        WHEN 'origins' THEN 'empty, or comma-separated origins like https://app.example.com:8443 (never *)'
        ELSE 'text of at most 255 bytes (UTF-8) without control characters' END;
    valid := CASE d.type
        WHEN 'integer' THEN NEW.value ~ '^-?[0-9]{1,18}$'
            AND NEW.value::numeric BETWEEN d.min_value AND d.max_value
        WHEN 'boolean' THEN NEW.value IN ('on', 'off')
        WHEN 'origins' THEN NEW.value = '' OR NOT EXISTS (
            SELECT FROM unnest(string_to_array(replace(NEW.value, ' ', ''), ',')) o
            WHERE o !~ '^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$')
        ELSE octet_length(NEW.value) <= 255 AND NEW.value !~ '[[:cntrl:]]' END;
    IF NOT valid THEN
        RAISE EXCEPTION 'invalid value for setting "%"', NEW.name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was "%s".', left(NEW.value, 64)),
                  HINT = format('%s takes %s%s.', NEW.name, allowed,
                                CASE WHEN d.default_value <> ''
                                     THEN format(' (default %s)', d.default_value) ELSE '' END);
    END IF;
    RETURN NEW;
END
$$;
ALTER FUNCTION @extschema@.settings_check() OWNER TO namaskah_owner;
CREATE TRIGGER settings_checked BEFORE INSERT OR UPDATE ON @extschema@.settings
    FOR EACH ROW EXECUTE FUNCTION @extschema@.settings_check();

-- setting(name): the operator's value, else the declared default (NULL when
-- neither); 42704 for an undeclared name. In C, cached per backend
-- (extension/settings.c).
CREATE FUNCTION @extschema@.setting(name text)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_setting'
LANGUAGE C STABLE STRICT;
ALTER FUNCTION @extschema@.setting(text) OWNER TO namaskah_owner;

-- set_setting(name, value): operators only (not granted to any API role).
CREATE FUNCTION @extschema@.set_setting(name text, value text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO @extschema@.settings AS s (name, value) VALUES ($1, $2)
    ON CONFLICT (name) DO UPDATE SET value = excluded.value
$$;
ALTER FUNCTION @extschema@.set_setting(text, text) OWNER TO namaskah_owner;

-- reset_setting(name): back to the declared default. Operators only.
CREATE FUNCTION @extschema@.reset_setting(name text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM @extschema@.settings s WHERE s.name = $1
$$;
ALTER FUNCTION @extschema@.reset_setting(text) OWNER TO namaskah_owner;
