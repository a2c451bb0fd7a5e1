-- namaskah install script, part 30: JWT and passwords.
--
--   * pgjwt-compatible functions (url_encode, url_decode, algorithm_sign,
--     sign, verify), in C, same signatures and results as pgjwt 0.2.0;
--   * signing keys (owner-only table), installed idempotently by fingerprint,
--     rotated with a grace period;
--   * jwt_issue / jwt_verify_strict for the request pipeline;
--   * revocation by jti and per-user cutoff, purged as tokens expire;
--   * request claims helpers for endpoint functions;
--   * scrypt password hashing.
-- Settings used (namaskah.settings): jwt.expire_minutes (480),
-- jwt.leeway_seconds (30), jwt.key_grace_minutes (expire + 5), jwt.issuer,
-- jwt.audience, jwt.revocation_cache_rows (100000), password.scrypt_ln (14),
-- password.scrypt_r (8), password.scrypt_p (1). See docs/jwt.md.

-- ---- pgjwt compatibility ----------------------------------------------------

CREATE FUNCTION @extschema@.url_encode(data bytea)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_url_encode'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.url_decode(data text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'nk_sql_url_decode'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Not STRICT: like pgjwt, NULL data or secret gives NULL, while a bad
-- algorithm raises 22023 even when it is NULL.
CREATE FUNCTION @extschema@.algorithm_sign(signables text, secret text, algorithm text)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_algorithm_sign'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.sign(payload json, secret text, algorithm text DEFAULT 'HS256')
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_sign'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- STABLE, not IMMUTABLE as in pgjwt: the result depends on the clock.
CREATE FUNCTION @extschema@.verify(token text, secret text, algorithm text DEFAULT 'HS256')
RETURNS TABLE(header json, payload json, valid boolean)
AS 'MODULE_PATHNAME', 'nk_sql_verify'
LANGUAGE C STABLE PARALLEL SAFE ROWS 1;

-- ---- signing keys -----------------------------------------------------------

CREATE TABLE @extschema@.signing_keys (
    kid text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{1,64}$'),
    algorithm text NOT NULL CHECK (algorithm IN ('HS256', 'HS384', 'HS512')),
    secret bytea NOT NULL,
    fingerprint text UNIQUE NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz
);
ALTER TABLE @extschema@.signing_keys OWNER TO namaskah_owner;
COMMENT ON TABLE @extschema@.signing_keys IS
    'JWT signing keys (HMAC secrets); readable by the owner only';

-- Backends cache keys and jwt.* settings; DML sends no invalidation by
-- itself, so these triggers ask for one (cache_invalidate, part 00; see
-- extension/jwt_keys.c).
CREATE TRIGGER signing_keys_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.cache_invalidate();
CREATE TRIGGER jwt_settings_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.settings
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.cache_invalidate();
CREATE TRIGGER setting_definitions_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.setting_definitions
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.cache_invalidate();
-- the pseudonym key derived from the secret (extension/secret.c)
CREATE TRIGGER app_secret_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.app_secret
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.cache_invalidate();

-- Checks a secret (22023 when too short, a placeholder or low-entropy; the
-- message never contains it) and returns its fingerprint.
CREATE FUNCTION @extschema@._jwt_key_fingerprint(secret text, algorithm text)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_jwt_key_fingerprint'
LANGUAGE C IMMUTABLE STRICT;
ALTER FUNCTION @extschema@._jwt_key_fingerprint(text, text) OWNER TO namaskah_owner;

-- Grace after retirement: jwt.key_grace_minutes, default token lifetime + 5.
CREATE FUNCTION @extschema@._jwt_grace()
RETURNS interval
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT make_interval(mins => coalesce(@extschema@.setting('jwt.key_grace_minutes')::int,
                                          @extschema@.setting('jwt.expire_minutes')::int + 5))
$$;
ALTER FUNCTION @extschema@._jwt_grace() OWNER TO namaskah_owner;

-- install_signing_key(secret, algorithm) -> kid. Idempotent: the same
-- secret and algorithm give the same kid and change nothing. Pass the secret
-- as a bind parameter or from a table, never as a literal (docs/jwt.md).
CREATE FUNCTION @extschema@.install_signing_key(secret text, algorithm text DEFAULT 'HS256')
RETURNS text
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fp text := @extschema@._jwt_key_fingerprint($1, $2);
    new_kid text := 'k' || substr(fp, 1, 16);
    found_kid text;
BEGIN
    INSERT INTO @extschema@.signing_keys AS k (kid, algorithm, secret, fingerprint)
    VALUES (new_kid, $2, convert_to($1, 'UTF8'), fp)
    ON CONFLICT (fingerprint) DO NOTHING;
    SELECT k.kid INTO found_kid FROM @extschema@.signing_keys k
     WHERE k.fingerprint = fp;
    RETURN found_kid;
END
$$;
ALTER FUNCTION @extschema@.install_signing_key(text, text) OWNER TO namaskah_owner;

-- rotate_signing_key(secret, algorithm) -> kid: installs (or re-activates)
-- the key, makes it the signing key and retires every other active key now.
CREATE FUNCTION @extschema@.rotate_signing_key(secret text, algorithm text DEFAULT 'HS256')
RETURNS text
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_kid text := @extschema@.install_signing_key($1, $2);
BEGIN
    UPDATE @extschema@.signing_keys k
       SET retired_at = NULL, created_at = now()
     WHERE k.kid = new_kid AND k.retired_at IS NOT NULL;
    UPDATE @extschema@.signing_keys k
       SET retired_at = now()
     WHERE k.kid <> new_kid AND k.retired_at IS NULL;
    RETURN new_kid;
END
$$;
ALTER FUNCTION @extschema@.rotate_signing_key(text, text) OWNER TO namaskah_owner;

CREATE FUNCTION @extschema@.retire_signing_key(kid text)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE @extschema@.signing_keys k SET retired_at = now()
     WHERE k.kid = $1 AND k.retired_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no active signing key with kid "%"', $1
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
ALTER FUNCTION @extschema@.retire_signing_key(text) OWNER TO namaskah_owner;

-- signing: signs new tokens; active: verifies; grace: retired, still
-- verifies; retired: past the grace period, its tokens fail (unknown_kid).
CREATE VIEW @extschema@.signing_key_status AS
SELECT k.kid, k.algorithm, k.created_at, k.retired_at,
       CASE
           WHEN k.retired_at IS NULL AND k.kid = (
                SELECT n.kid FROM @extschema@.signing_keys n
                 WHERE n.retired_at IS NULL
                 ORDER BY n.created_at DESC, n.kid DESC LIMIT 1) THEN 'signing'
           WHEN k.retired_at IS NULL THEN 'active'
           WHEN now() < k.retired_at + @extschema@._jwt_grace() THEN 'grace'
           ELSE 'retired'
       END AS state
FROM @extschema@.signing_keys k;
ALTER VIEW @extschema@.signing_key_status OWNER TO namaskah_owner;

-- ---- revocation -------------------------------------------------------------

CREATE TABLE @extschema@.revoked_tokens (
    jti text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
ALTER TABLE @extschema@.revoked_tokens OWNER TO namaskah_owner;
CREATE INDEX revoked_tokens_expires_at ON @extschema@.revoked_tokens (expires_at);

CREATE TABLE @extschema@.user_token_cutoff (
    user_id text PRIMARY KEY,
    not_before timestamptz NOT NULL
);
ALTER TABLE @extschema@.user_token_cutoff OWNER TO namaskah_owner;
CREATE INDEX user_token_cutoff_not_before ON @extschema@.user_token_cutoff (not_before);

-- Verifiers hold both tables in memory (up to jwt.revocation_cache_rows rows
-- each) and remember "not revoked" per token, until these tables change.
CREATE TRIGGER revoked_tokens_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.revoked_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.cache_invalidate();
CREATE TRIGGER user_token_cutoff_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.user_token_cutoff
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.cache_invalidate();

-- revoke_token(jti, expires_at): expires_at is the token's exp; the entry is
-- purged after it. NULL expires_at: a full token lifetime from now.
CREATE FUNCTION @extschema@.revoke_token(jti text, expires_at timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF $1 IS NULL OR $1 = '' THEN
        RAISE EXCEPTION 'jti must not be empty' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO @extschema@.revoked_tokens AS r (jti, expires_at)
    VALUES ($1, coalesce($2, now() + @extschema@._jwt_grace()))
    ON CONFLICT ON CONSTRAINT revoked_tokens_pkey
    DO UPDATE SET expires_at = greatest(r.expires_at, excluded.expires_at);
END
$$;
ALTER FUNCTION @extschema@.revoke_token(text, timestamptz) OWNER TO namaskah_owner;

-- revoke_user_tokens(user_id, at): every token of that user (claim sub)
-- issued before at (iat < at) is revoked; iat has whole seconds, so a token
-- issued in the same second as the cutoff may be revoked too (fail closed).
CREATE FUNCTION @extschema@.revoke_user_tokens(user_id text, at timestamptz DEFAULT now())
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF $1 IS NULL OR $1 = '' OR $2 IS NULL THEN
        RAISE EXCEPTION 'user_id and at must not be empty' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO @extschema@.user_token_cutoff AS c (user_id, not_before)
    VALUES ($1, $2)
    ON CONFLICT ON CONSTRAINT user_token_cutoff_pkey
    DO UPDATE SET not_before = greatest(c.not_before, excluded.not_before);
END
$$;
ALTER FUNCTION @extschema@.revoke_user_tokens(text, timestamptz) OWNER TO namaskah_owner;

-- purge_revocations(max_rows): deletes at most max_rows entries that can no
-- longer matter: a jti past its token's expiry plus leeway, a user cutoff
-- older than the longest token lifetime (the key grace) plus leeway.
CREATE FUNCTION @extschema@.purge_revocations(max_rows int DEFAULT 1000)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    leeway interval := make_interval(secs => @extschema@.setting('jwt.leeway_seconds')::int);
    n1 bigint;
    n2 bigint := 0;
BEGIN
    DELETE FROM @extschema@.revoked_tokens r
     WHERE r.jti IN (SELECT x.jti FROM @extschema@.revoked_tokens x
                      WHERE x.expires_at < now() - leeway
                      LIMIT greatest($1, 0));
    GET DIAGNOSTICS n1 = ROW_COUNT;
    IF n1 < $1 THEN
        DELETE FROM @extschema@.user_token_cutoff c
         WHERE c.user_id IN (SELECT x.user_id FROM @extschema@.user_token_cutoff x
                              WHERE x.not_before < now() - @extschema@._jwt_grace() - leeway
                              LIMIT $1 - n1);
        GET DIAGNOSTICS n2 = ROW_COUNT;
    END IF;
    RETURN n1 + n2;
END
$$;
ALTER FUNCTION @extschema@.purge_revocations(int) OWNER TO namaskah_owner;

-- ---- issuing and strict verification ---------------------------------------

-- jwt_issue(claims, now): signs claims plus iat, nbf, exp, jti (and iss, aud
-- when configured; these replace any the caller passed) with the newest
-- active key; the header carries its kid and alg.
CREATE FUNCTION @extschema@.jwt_issue(claims jsonb, now timestamptz DEFAULT now())
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_jwt_issue'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.jwt_issue(jsonb, timestamptz) OWNER TO namaskah_owner;

-- jwt_lifetime_seconds(): the lifetime of a token jwt_issue makes now, read
-- the way jwt_issue reads jwt.expire_minutes (bounded; 480 when unset or out
-- of range): what a login's expires_in says.
CREATE FUNCTION @extschema@.jwt_lifetime_seconds()
RETURNS integer
AS 'MODULE_PATHNAME', 'nk_sql_jwt_lifetime_seconds'
LANGUAGE C STABLE;
ALTER FUNCTION @extschema@.jwt_lifetime_seconds() OWNER TO namaskah_owner;

-- jwt_verify_strict(token, now): never raises for a bad token; one row with
-- valid, the reason code ('ok' or a rejection), the kid when the key was
-- found and, when valid, the claims (the payload's exact JSON text, proved
-- to be one object without duplicate keys) with the two the pipeline acts
-- on: sub, and role (when a string of at most 32 bytes). Runs on every
-- authenticated request.
-- Not SECURITY DEFINER (a per-call search_path switch would cost more than
-- the verification): its C code reads its tables as the function's owner and
-- qualifies everything itself. Granted to nobody.
-- One composite value, not a set: the pipeline assigns it in a plain
-- PL/pgSQL expression (no executor run of its own per request).
CREATE TYPE @extschema@.jwt_verdict AS (
    valid boolean, reason text, claims json, kid text, sub text, role text);
ALTER TYPE @extschema@.jwt_verdict OWNER TO namaskah_owner;
CREATE FUNCTION @extschema@.jwt_verify_strict(token text, now timestamptz DEFAULT now())
RETURNS @extschema@.jwt_verdict
AS 'MODULE_PATHNAME', 'nk_sql_jwt_verify_strict'
LANGUAGE C STABLE;
ALTER FUNCTION @extschema@.jwt_verify_strict(text, timestamptz) OWNER TO namaskah_owner;

-- ---- request claims ---------------------------------------------------------

-- Like PostgREST: the verified claims live in the transaction-local setting
-- request.jwt.claims. Called by the pipeline only.
CREATE FUNCTION @extschema@.set_request_claims(claims jsonb)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    SELECT pg_catalog.set_config('request.jwt.claims', coalesce($1::text, ''), true)
$$;

CREATE FUNCTION @extschema@.current_user_id()
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
           OPERATOR(pg_catalog.->>) 'sub'
$$;

CREATE FUNCTION @extschema@.current_role()
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
           OPERATOR(pg_catalog.->>) 'role'
$$;

-- ---- passwords --------------------------------------------------------------

-- $scrypt$ln=N,r=R,p=P$salt$hash with a 16-byte random salt.
CREATE FUNCTION @extschema@.password_hash(password text)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_password_hash'
LANGUAGE C VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.password_hash(text) OWNER TO namaskah_owner;

-- Not STRICT: a NULL hash (no such account) costs one KDF run and is false.
CREATE FUNCTION @extschema@.password_verify(password text, hash text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nk_sql_password_verify'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.password_verify(text, text) OWNER TO namaskah_owner;

CREATE FUNCTION @extschema@.password_needs_rehash(hash text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nk_sql_password_needs_rehash'
LANGUAGE C STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.password_needs_rehash(text) OWNER TO namaskah_owner;

-- ---- grants ---------------------------------------------------------------
-- (99_grants revokes PUBLIC only; these survive it.) Issuing, verifying,
-- keys and revocation are for the pipeline and operators: granted to nobody.

GRANT EXECUTE ON FUNCTION
    @extschema@.url_encode(bytea),
    @extschema@.url_decode(text),
    @extschema@.algorithm_sign(text, text, text),
    @extschema@.sign(json, text, text),
    @extschema@.verify(text, text, text),
    @extschema@.current_user_id(),
    @extschema@.current_role(),
    @extschema@.password_hash(text),
    @extschema@.password_verify(text, text),
    @extschema@.password_needs_rehash(text)
TO namaskah_api;
