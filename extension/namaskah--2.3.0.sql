-- namaskah 2.3.0 — the previous release, frozen (never edit: released SQL).
--
-- 2.3.0 was the API without the security layer: accounts with unsalted
-- SHA-256 password hashes, and verifications. No signing keys, no audit log,
-- no rate limits, no row-level security, no roles of its own. It is kept so
-- that the upgrade path (namaskah--2.3.0--2.4.0.sql) and the way back
-- (namaskah--2.4.0--2.3.0.sql) can be installed and tested; see
-- docs/MIGRATION.md.

\echo Use "CREATE EXTENSION namaskah VERSION '2.3.0'" to load this file. \quit

CREATE TABLE @extschema@.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL UNIQUE CHECK (length(email) <= 254),
    phone text CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    password_hash text NOT NULL,    -- legacy: unsalted sha256, lower-case hex
    role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE @extschema@.verifications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES @extschema@.users (id) ON DELETE CASCADE,
    service text NOT NULL CHECK (service ~ '^[a-z0-9][a-z0-9_.-]{0,31}$'),
    phone_number text NOT NULL CHECK (phone_number ~ '^\+[1-9][0-9]{7,14}$'),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'completed', 'cancelled', 'expired')),
    code text CHECK (code ~ '^[0-9]{4,8}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CHECK (status <> 'completed' OR code IS NOT NULL)
);
CREATE INDEX verifications_user ON @extschema@.verifications (user_id, created_at DESC);
CREATE UNIQUE INDEX verifications_pending_number ON @extschema@.verifications
    (phone_number) WHERE status = 'pending';

-- The 2.3.0 password scheme: sha256(password) as hex, no salt, no cost.
CREATE FUNCTION @extschema@.legacy_password_hash(password text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex') $$;

CREATE FUNCTION @extschema@.create_user(email text, password text, phone text DEFAULT NULL)
RETURNS uuid
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO @extschema@.users (email, phone, password_hash)
    VALUES ($1, $3, @extschema@.legacy_password_hash($2))
    RETURNING id
$$;

-- check_password: the account id when the password matches, else NULL.
CREATE FUNCTION @extschema@.check_password(email text, password text)
RETURNS uuid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.id FROM @extschema@.users u
    WHERE u.email = $1 AND u.password_hash = @extschema@.legacy_password_hash($2)
$$;
