-- namaskah install script, part 50: accounts and password login.
--
-- namaskah.users is owned by namaskah_owner and protected by row-level
-- security: endpoints (namaskah_api) see only the row of the verified
-- subject. What must look past that — creating an account, checking a
-- password — is done by the narrow SECURITY DEFINER functions below, which
-- return only what the caller needs.

CREATE TABLE @extschema@.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL CHECK (length(email) <= 254),
    email_key text NOT NULL UNIQUE,          -- lower(email): one account per address
    phone text CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    password_hash text NOT NULL,
    role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE @extschema@.users OWNER TO namaskah_owner;
ALTER TABLE @extschema@.users ENABLE ROW LEVEL SECURITY;
COMMENT ON TABLE @extschema@.users IS
    'Accounts; row-level security: an API caller sees only its own row';

-- The verified subject of the current request (set by the pipeline from the
-- token's claims; NULL outside an authenticated request).
CREATE FUNCTION @extschema@.request_subject()
RETURNS uuid
AS 'MODULE_PATHNAME', 'nk_sql_request_subject'
LANGUAGE C STABLE;

CREATE POLICY users_own_row ON @extschema@.users
    FOR SELECT TO namaskah_api
    USING (id = @extschema@.request_subject());
GRANT SELECT (id, email, phone, role, created_at) ON @extschema@.users TO namaskah_api;

-- create_user: a new account with role 'user'. Returns its id; a taken email
-- raises 23505 (the endpoint answers 409 without saying more).
CREATE FUNCTION @extschema@.create_user(email text, password text, phone text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id uuid;
BEGIN
    INSERT INTO @extschema@.users (email, email_key, phone, password_hash)
    VALUES ($1, lower($1), $3, @extschema@.password_hash($2))
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;
ALTER FUNCTION @extschema@.create_user(text, text, text) OWNER TO namaskah_owner;

-- authenticate_password: (user_id, role) on success; otherwise outcome says
-- why ('invalid_credentials', or 'account_locked' for an account an admin
-- locked) and user_id is NULL. An unknown email spends the same hashing time
-- as a wrong password. Failures are counted (failed_logins, for the admin
-- view) but lock nothing: guessing is throttled (login_attempt_allowed,
-- login_failed), keyed by the name tried, so existing and unknown accounts
-- answer alike and nobody can lock another out. Legacy hashes carried over from 2.3.0
-- ('$sha256$' and the unsalted SHA-256 hex; docs/MIGRATION.md) are accepted
-- once, after a scrypt run of the same cost, and replaced by scrypt at that
-- login (password_needs_rehash is true for them).
CREATE FUNCTION @extschema@.authenticate_password(email text, password text,
    OUT outcome text, OUT user_id uuid, OUT role text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account @extschema@.users;
    password_ok boolean;
BEGIN
    SELECT * INTO account FROM @extschema@.users u WHERE u.email_key = lower($1) FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM @extschema@.password_verify($2, NULL);
        outcome := 'invalid_credentials';
        RETURN;
    END IF;
    IF account.locked_until > now() THEN
        PERFORM @extschema@.password_verify($2, NULL);
        outcome := 'account_locked';
        RETURN;
    END IF;
    IF account.password_hash LIKE '$sha256$%' THEN
        PERFORM @extschema@.password_verify($2, NULL);
        -- Compared as digests of digests: the comparison's timing says
        -- nothing about the stored hash.
        password_ok := sha256(convert_to(account.password_hash, 'UTF8'))
            = sha256(convert_to('$sha256$' || encode(sha256(convert_to($2, 'UTF8')), 'hex'), 'UTF8'));
    ELSE
        password_ok := @extschema@.password_verify($2, account.password_hash);
    END IF;
    IF NOT password_ok THEN
        UPDATE @extschema@.users u SET failed_logins = u.failed_logins + 1,
            updated_at = now()
        WHERE u.id = account.id;
        outcome := 'invalid_credentials';
        RETURN;
    END IF;
    UPDATE @extschema@.users u SET failed_logins = 0,
        password_hash = CASE WHEN @extschema@.password_needs_rehash(u.password_hash)
                             THEN @extschema@.password_hash($2) ELSE u.password_hash END,
        updated_at = now()
    WHERE u.id = account.id AND (u.failed_logins <> 0
                                 OR @extschema@.password_needs_rehash(u.password_hash));
    outcome := 'ok';
    user_id := account.id;
    role := account.role;
END
$$;
ALTER FUNCTION @extschema@.authenticate_password(text, text) OWNER TO namaskah_owner;

-- The rate-limit keys of a login attempt on the account named by email from
-- client: that name from that address (policy auth_login_account_client)
-- and that name from all addresses (auth_login_account). Built from
-- pseudonyms: consumed keys are kept in audit records (ratelimit_journal.c).
CREATE FUNCTION @extschema@.login_keys(email text, client inet,
    OUT name_and_client text, OUT name_only text)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    name_only := 'account:' || @extschema@.name_pseudonym(left(lower($1), 254));
    name_and_client := name_only || ' ' || @extschema@.client_pseudonym($2);
END
$$;

-- login_attempt_allowed: whether the account named by email may be tried
-- from client: neither throttle is used up by failed attempts (a peek:
-- nothing consumed). Attempts on one name are serialized by an advisory
-- lock held to the end of the transaction, which counts a failure
-- (login_failed) before the next attempt peeks: the bound is exact. Returns
-- the first denial's policy and Retry-After. Keyed by the name tried,
-- existing or not.
CREATE FUNCTION @extschema@.login_attempt_allowed(email text, client inet,
    OUT allowed boolean, OUT policy text, OUT retry_after int)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    keys record := @extschema@.login_keys($1, $2);
    limited record;
BEGIN
    -- attempts on one name wait for each other until commit (after
    -- login_failed), so guesses sent at once cannot all pass the peek
    PERFORM pg_advisory_xact_lock(hashtextextended(keys.name_only, 0));
    policy := 'auth_login_account_client';
    SELECT * INTO limited FROM @extschema@.rate_limit_peek(policy, keys.name_and_client);
    IF limited.allowed THEN
        policy := 'auth_login_account';
        SELECT * INTO limited FROM @extschema@.rate_limit_peek(policy, keys.name_only);
    END IF;
    allowed := limited.allowed;
    retry_after := limited.retry_after;
    IF allowed THEN
        policy := NULL;
    END IF;
END
$$;
ALTER FUNCTION @extschema@.login_attempt_allowed(text, inet) OWNER TO namaskah_owner;

-- login_failed: counts one failed attempt on the account named by email from
-- client against both throttles. Successful logins count against neither
-- (NIST SP 800-63B 5.2.2 limits failed attempts): an owner may log in as
-- often as the route's own policy allows.
CREATE FUNCTION @extschema@.login_failed(email text, client inet)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    keys record := @extschema@.login_keys($1, $2);
BEGIN
    PERFORM @extschema@.rate_limit_check('auth_login_account_client', keys.name_and_client);
    PERFORM @extschema@.rate_limit_check('auth_login_account', keys.name_only);
END
$$;
ALTER FUNCTION @extschema@.login_failed(text, inet) OWNER TO namaskah_owner;

-- issue_access_token: a signed token for a user that exists and is not
-- locked, with its lifetime in seconds. sid names the login session so a
-- refresh keeps it; auth_time is when the password was checked.
CREATE FUNCTION @extschema@.issue_access_token(user_id uuid, sid text DEFAULT NULL,
    auth_time bigint DEFAULT NULL, OUT access_token text, OUT expires_in int)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account_role text;
BEGIN
    SELECT u.role INTO account_role FROM @extschema@.users u
    WHERE u.id = $1 AND (u.locked_until IS NULL OR u.locked_until <= now());
    IF NOT FOUND THEN
        PERFORM @extschema@.raise_problem(401, 'invalid_credentials',
            'The account cannot be used.');
    END IF;
    access_token := @extschema@.jwt_issue(jsonb_build_object(
        'sub', $1::text, 'role', account_role,
        'sid', coalesce($2, gen_random_uuid()::text),
        'auth_time', coalesce($3, extract(epoch FROM now())::bigint)));
    -- the issued token's own lifetime, as jwt_issue read the setting
    expires_in := @extschema@.jwt_lifetime_seconds();
END
$$;
ALTER FUNCTION @extschema@.issue_access_token(uuid, text, bigint) OWNER TO namaskah_owner;

-- revoke_current_token: logout. Revokes the jti of the request's own token
-- until that token's expiry.
CREATE FUNCTION @extschema@.revoke_current_token()
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
BEGIN
    IF claims->>'jti' IS NULL OR claims->>'exp' IS NULL THEN
        PERFORM @extschema@.raise_problem(401, 'malformed', 'The token cannot be revoked.');
    END IF;
    PERFORM @extschema@.revoke_token(claims->>'jti', to_timestamp((claims->>'exp')::bigint));
END
$$;
ALTER FUNCTION @extschema@.revoke_current_token() OWNER TO namaskah_owner;

GRANT EXECUTE ON FUNCTION @extschema@.request_subject() TO namaskah_api;
GRANT EXECUTE ON FUNCTION @extschema@.login_attempt_allowed(text, inet),
    @extschema@.login_failed(text, inet),
    @extschema@.create_user(text, text, text),
    @extschema@.authenticate_password(text, text),
    @extschema@.issue_access_token(uuid, text, bigint),
    @extschema@.revoke_current_token() TO namaskah_api;
