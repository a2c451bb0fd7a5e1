-- namaskah 2.4.0 install script, part 00: roles and schemas.
-- (extension/sql/*.sql are concatenated in name order into
-- namaskah--2.4.0.sql; each part holds one concern.)

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

-- Settings that operators tune at run time without a restart (token lifetime,
-- leeway, default rate limit ...). Secrets never live here.
CREATE TABLE @extschema@.settings (
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.]{0,62}$'),
    value text NOT NULL,
    description text
);
ALTER TABLE @extschema@.settings OWNER TO namaskah_owner;

-- setting(name, fallback): the configured value, or fallback when unset.
CREATE FUNCTION @extschema@.setting(name text, fallback text DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT s.value FROM @extschema@.settings s WHERE s.name = $1), $2)
$$;
ALTER FUNCTION @extschema@.setting(text, text) OWNER TO namaskah_owner;

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
