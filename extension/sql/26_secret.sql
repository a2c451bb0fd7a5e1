-- namaskah install script, part 26: the application secret and keyed
-- pseudonyms (HMAC in mask.c, secret rules in core/nk_validate.c).
--
-- SECRET_KEY is installed once per database by the operator scripts (at
-- every deploy: install_app_secret is idempotent). It is readable by its
-- owner only; other parts of the extension reach it through derive_key from
-- their own SECURITY DEFINER functions, so no API role ever sees it. It is
-- not part of pg_dump output (extension table): reinstall it after a restore.

CREATE TABLE @extschema@.app_secret (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    secret bytea NOT NULL,
    fingerprint text NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE @extschema@.app_secret OWNER TO namaskah_owner;
COMMENT ON TABLE @extschema@.app_secret IS
    'The application secret (SECRET_KEY); one row; owner only';

-- Internal primitives (not granted to anyone; owned by namaskah_owner so the
-- definer functions below can call them).
CREATE FUNCTION @extschema@.mask_hmac_sha256(key bytea, data bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'nk_sql_mask_hmac_sha256'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
ALTER FUNCTION @extschema@.mask_hmac_sha256(bytea, bytea) OWNER TO namaskah_owner;

-- check_secret_strength(secret): raises 22023 when the value is too short,
-- a placeholder or of low entropy; the message never contains the value.
CREATE FUNCTION @extschema@.check_secret_strength(secret text)
RETURNS void
AS 'MODULE_PATHNAME', 'nk_sql_check_secret_strength'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
ALTER FUNCTION @extschema@.check_secret_strength(text) OWNER TO namaskah_owner;

-- install_app_secret(secret): stores SECRET_KEY, returns its fingerprint
-- (hex of the first 8 bytes of SHA-256 of the secret). Installing the
-- installed secret again changes nothing; a different one replaces it (and
-- with it every pseudonym and derived key).
CREATE FUNCTION @extschema@.install_app_secret(secret text)
RETURNS text
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    raw bytea;
    fp text;
BEGIN
    PERFORM @extschema@.check_secret_strength(secret);
    raw := pg_catalog.convert_to(secret, 'UTF8');
    fp := pg_catalog.encode(pg_catalog.substr(pg_catalog.sha256(raw), 1, 8), 'hex');
    IF EXISTS (SELECT FROM @extschema@.app_secret s WHERE s.id AND s.fingerprint = fp) THEN
        RETURN fp;
    END IF;
    INSERT INTO @extschema@.app_secret AS s (id, secret, fingerprint, installed_at)
    VALUES (true, raw, fp, pg_catalog.now())
    ON CONFLICT (id) DO UPDATE
        SET secret = excluded.secret, fingerprint = excluded.fingerprint,
            installed_at = excluded.installed_at;
    RETURN fp;
END
$$;
ALTER FUNCTION @extschema@.install_app_secret(text) OWNER TO namaskah_owner;
COMMENT ON FUNCTION @extschema@.install_app_secret(text) IS
    'Installs SECRET_KEY (idempotent); returns its fingerprint; refuses weak secrets with 22023';

-- derive_key(purpose): HMAC-SHA256(secret, 'namaskah:' || purpose), a key
-- per purpose so that no two uses share key material. Granted to no one:
-- call it from SECURITY DEFINER functions owned by namaskah_owner.
CREATE FUNCTION @extschema@.derive_key(purpose text)
RETURNS bytea
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k bytea;
BEGIN
    SELECT s.secret INTO k FROM @extschema@.app_secret s WHERE s.id;
    IF k IS NULL THEN
        RAISE EXCEPTION 'application secret is not installed'
            USING ERRCODE = '55000',
                  DETAIL = 'Keys and pseudonyms are derived from SECRET_KEY.',
                  HINT = 'Install it with @extschema@.install_app_secret (scripts do this at deploy).';
    END IF;
    RETURN @extschema@.mask_hmac_sha256(k, pg_catalog.convert_to('namaskah:' || purpose, 'UTF8'));
END
$$;
ALTER FUNCTION @extschema@.derive_key(text) OWNER TO namaskah_owner;
COMMENT ON FUNCTION @extschema@.derive_key(text) IS
    'Per-purpose key derived from the application secret (internal; not granted)';

-- pseudonymize(value): 'ps_' || the first 16 hex digits (64 bits) of
-- HMAC-SHA256(derive_key('pseudonym'), value). Stable for as long as the
-- secret is; reveals nothing without it. C (extension/secret.c): the
-- derived key is kept per backend until app_secret changes (its trigger,
-- part 30, invalidates it).
CREATE FUNCTION @extschema@.pseudonymize(value text)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_pseudonymize'
LANGUAGE C STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.pseudonymize(text) OWNER TO namaskah_owner;
COMMENT ON FUNCTION @extschema@.pseudonymize(text) IS
    'Stable keyed pseudonym ps_<16 hex> of a value (HMAC with a key derived from SECRET_KEY)';

GRANT EXECUTE ON FUNCTION @extschema@.pseudonymize(text) TO namaskah_api;

-- client_pseudonym(addr): how a client address appears wherever it is kept:
-- the audit actor, rate-limit keys (and so the consumption kept in audit
-- records): 'client:' || its pseudonym, or its masked network
-- ('net:' || mask_ip) before SECRET_KEY is installed, 'client:unknown'
-- without an address. C (extension/secret.c), called on every anonymous
-- request; runs as its caller, which must be able to read app_secret: the
-- pipeline, the audit and the login throttle, all namaskah_owner (granted
-- to no one else).
CREATE FUNCTION @extschema@.client_pseudonym(addr inet)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_client_pseudonym'
LANGUAGE C STABLE;
ALTER FUNCTION @extschema@.client_pseudonym(inet) OWNER TO namaskah_owner;

-- name_pseudonym(value): a name (an account's email, lower-cased by the
-- caller) as it may be kept: its pseudonym, or before SECRET_KEY is
-- installed an unkeyed digest ('unkeyed:' || 16 hex digits of its SHA-256),
-- which a list of candidate emails could reverse: the rate-limit journal
-- never keeps keys so marked (extension/ratelimit_journal.c).
CREATE FUNCTION @extschema@.name_pseudonym(value text)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF EXISTS (SELECT FROM @extschema@.app_secret) THEN
        RETURN @extschema@.pseudonymize(value);
    END IF;
    RETURN 'unkeyed:' || left(encode(sha256(convert_to(value, 'UTF8')), 'hex'), 16);
END
$$;
