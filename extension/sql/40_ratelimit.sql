-- namaskah install script, part 40: rate limiting.
--
-- Policies (rate_limit_policies) say how much a key may do; state
-- (rate_limit_state, UNLOGGED) says how much it did. rate_limit_peek and
-- rate_limit_check (C, extension/ratelimit.c; arithmetic in
-- core/nk_ratelimit.c) decide one request; docs/rate-limiting.md explains
-- the algorithms, the crash semantics and the peek/check pattern.

CREATE TABLE @extschema@.rate_limit_policies (
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.:-]{0,62}$'),
    algorithm text NOT NULL
        CHECK (algorithm IN ('fixed_window', 'sliding_window', 'token_bucket', 'gcra')),
    "limit" integer NOT NULL CHECK ("limit" >= 0),
    window_seconds integer NOT NULL CHECK (window_seconds > 0),
    burst integer CHECK (burst >= 0),
    cost integer NOT NULL DEFAULT 1 CHECK (cost >= 0),
    scope text NOT NULL
        CHECK (scope IN ('client', 'user', 'user_route', 'route', 'global',
                         'account', 'account_client')),
    description text,
    slots integer NOT NULL DEFAULT 16 CHECK (slots BETWEEN 1 AND 64)
);
ALTER TABLE @extschema@.rate_limit_policies OWNER TO namaskah_owner;
COMMENT ON TABLE @extschema@.rate_limit_policies IS
    'Rate-limit policies: algorithm, "limit" cost units per window_seconds, burst (NULL = limit; bucket capacity of token_bucket and gcra), default cost, key scope';
COMMENT ON COLUMN @extschema@.rate_limit_policies.scope IS
    'What the caller keys the state by: client (address), user, user_route, route, global; account and account_client (the account name a login tries, alone or with the client address) are keyed by the login endpoint, not by routes';
COMMENT ON COLUMN @extschema@.rate_limit_policies.slots IS
    'At most this many slots (state rows) per key, so concurrent requests on one hot key lock different rows; the actual number is rate_limit_slots(algorithm, "limit", burst, slots): every slot gets at least 8 units';

-- Built-in policies. 'default' follows RATE_LIMIT_REQUESTS/RATE_LIMIT_WINDOW
-- (set_default_rate_limit at start); it is a fixed window because that is what
-- "N requests per window" means to an operator, and it keeps one counter per
-- user. The auth policies are strict on purpose; the sliding window avoids
-- the doubled burst a fixed window allows at its edge. Login attempts on one
-- account are throttled per client address (so a guesser at one address
-- cannot lock the owner out elsewhere) and, more loosely, over all
-- addresses together (so many addresses together stay bounded): throttling
-- instead of a hard lock (NIST SP 800-63B 5.2.2; docs/rate-limiting.md).
INSERT INTO @extschema@.rate_limit_policies
    (name, algorithm, "limit", window_seconds, burst, cost, scope, description)
VALUES
    ('default', 'fixed_window', 100, 3600, NULL, 1, 'user',
     'Every route without its own policy: per user (per client address when anonymous)'),
    ('auth_register', 'sliding_window', 5, 3600, NULL, 1, 'client',
     'Account creation: 5 per hour per client address'),
    ('auth_login', 'sliding_window', 20, 900, NULL, 1, 'client',
     'Login attempts: 20 per 15 minutes per client address'),
    ('auth_login_account_client', 'sliding_window', 5, 900, NULL, 1, 'account_client',
     'Login attempts: 5 per 15 minutes per account name from one client address'),
    ('auth_login_account', 'sliding_window', 100, 3600, NULL, 1, 'account',
     'Login attempts: 100 an hour per account name from all addresses together'),
    ('auth_failures', 'sliding_window', 60, 60, NULL, 1, 'client',
     'Failed bearer-token authentication: 60 a minute per client address, then 429');

-- pg_dump keeps operator-made policies (built-ins come with the extension).
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rate_limit_policies',
    $$WHERE name NOT IN ('default', 'auth_register', 'auth_login', 'auth_login_account_client',
                         'auth_login_account', 'auth_failures')$$);

-- State: one row per (policy, key, slot). A key's quota is split over
-- S = rate_limit_slots(...) slots, slot i holding its share (see
-- core/nk_ratelimit.h); small quotas have one slot, slot 0. The meaning of
-- t_us/n/n_prev depends on the policy's algorithm (see core/nk_ratelimit.h):
--   fixed_window    t_us = window start, n = cost used
--   sliding_window  t_us = window start, n = cost used, n_prev = previous
--                   window's cost used
--   token_bucket    t_us = last refill, n = tokens left in micro-tokens
--   gcra            t_us = theoretical arrival time
-- Times are microseconds since 2000-01-01 00:00 UTC (PostgreSQL's epoch).
-- expires_at: from then on the row equals a fresh key and may be deleted;
-- it is rounded up to a minute (or to the window when shorter) so that most
-- updates leave it alone and stay HOT.
-- UNLOGGED: a crash (not a clean restart) empties this table, and a
-- replica never has its rows; so the first decision after either rebuilds
-- it from the consumption kept in the audit records (rate_limit_epoch,
-- rate_limit_rebuild below; extension/ratelimit_journal.c).
-- policy and key compare bytewise (COLLATE "C"): they are only ever looked
-- up by equality, on every request, and a locale's comparison costs more.
-- A key's slots are made together (extension/ratelimit.c, rl_insert_key),
-- so its rows share a page.
CREATE UNLOGGED TABLE @extschema@.rate_limit_state (
    policy text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    slot smallint NOT NULL DEFAULT 0 CHECK (slot >= 0 AND slot < 64),
    t_us bigint NOT NULL,
    n bigint NOT NULL DEFAULT 0,
    n_prev bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (policy, key, slot)
) WITH (fillfactor = 70);
CREATE INDEX rate_limit_state_expires_at_idx
    ON @extschema@.rate_limit_state (expires_at);
ALTER TABLE @extschema@.rate_limit_state OWNER TO namaskah_owner;
COMMENT ON TABLE @extschema@.rate_limit_state IS
    'Rate-limit state per (policy, key, slot); UNLOGGED: emptied by a crash; expired rows are deleted incrementally';

-- One row while rate_limit_state is whole: written at CREATE EXTENSION and
-- by each rebuild; UNLOGGED like the state, so the crash that empties the
-- state empties this too and the next decision knows to rebuild.
CREATE UNLOGGED TABLE @extschema@.rate_limit_epoch (
    rebuilt_at timestamptz NOT NULL DEFAULT now(),
    events_replayed bigint NOT NULL DEFAULT 0
);
ALTER TABLE @extschema@.rate_limit_epoch OWNER TO namaskah_owner;
INSERT INTO @extschema@.rate_limit_epoch DEFAULT VALUES;
COMMENT ON TABLE @extschema@.rate_limit_epoch IS
    'One row while rate_limit_state is whole; missing after a crash or on a promoted replica (then rebuilt from audit records)';

CREATE TYPE @extschema@.rate_limit_result AS (
    allowed boolean,
    "limit" integer,
    remaining integer,
    reset_after integer,
    retry_after integer
);
ALTER TYPE @extschema@.rate_limit_result OWNER TO namaskah_owner;
COMMENT ON TYPE @extschema@.rate_limit_result IS
    'One rate-limit decision; times in seconds rounded up, retry_after 0 when allowed';

-- rate_limit_slots: how many slots a policy with these values splits a key's
-- state into (burst NULL = limit): min(slots, quota / 8), at least 1, where
-- the quota is the limit (windows) or min(limit, burst) (buckets).
CREATE FUNCTION @extschema@.rate_limit_slots(
    algorithm text, "limit" integer, burst integer, slots integer)
RETURNS integer
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'nk_sql_rate_limit_slots';
ALTER FUNCTION @extschema@.rate_limit_slots(text, integer, integer, integer)
    OWNER TO namaskah_owner;

-- rate_limit_peek and rate_limit_check plan their statements once per
-- backend (SPI_keepplan) and keep the plans, made under a pinned
-- search_path and run with sequential scans off (extension/ratelimit.c), so
-- they are index scans even when they are made while the state table is
-- empty (after a crash, or in a fresh database), where a sequential scan
-- looks cheapest and would then be used for every call as the table grows.
-- They carry no SET clause for that: a configuration save and restore on
-- every call (some 10 us each) is what one would cost.

-- rate_limit_peek: the committed state's answer (summed over the key's
-- slots); writes nothing, locks nothing, never waits. For rejecting early
-- and cheaply.
CREATE FUNCTION @extschema@.rate_limit_peek(
    policy text, key text, cost integer DEFAULT NULL,
    now timestamptz DEFAULT pg_catalog.clock_timestamp())
RETURNS @extschema@.rate_limit_result
LANGUAGE c VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'nk_sql_rate_limit_peek';
ALTER FUNCTION @extschema@.rate_limit_peek(text, text, integer, timestamptz)
    OWNER TO namaskah_owner;

-- rate_limit_check: the exact, consuming decision. Takes the cost from one
-- slot of the key, whose row stays locked until the transaction ends (other
-- checks on the key use the other slots meanwhile); a denied request changes
-- nothing and holds no lock. Call it as late as possible in the transaction.
CREATE FUNCTION @extschema@.rate_limit_check(
    policy text, key text, cost integer DEFAULT NULL,
    now timestamptz DEFAULT pg_catalog.clock_timestamp())
RETURNS @extschema@.rate_limit_result
LANGUAGE c VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'nk_sql_rate_limit_check';
ALTER FUNCTION @extschema@.rate_limit_check(text, text, integer, timestamptz)
    OWNER TO namaskah_owner;

-- rate_limit_consumed(): what rate_limit_check calls consumed since the
-- transaction began or since the last call, [[policy, key, cost,
-- microseconds since 2000-01-01 UTC], ...] in order, or NULL; handle_request
-- keeps it in the audit record's details ("rate_limits"), which is what a
-- rebuild replays.
CREATE FUNCTION @extschema@.rate_limit_consumed()
RETURNS jsonb
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'nk_sql_rate_limit_consumed';
ALTER FUNCTION @extschema@.rate_limit_consumed() OWNER TO namaskah_owner;

-- rate_limit_replay(policy, key, costs, times): one key's state rebuilt in
-- memory (C) from its recorded consumption, costs[i] at times[i]
-- (microseconds since 2000-01-01 UTC, in order), and written once per
-- slot; returns the events replayed. For rate_limit_rebuild.
CREATE FUNCTION @extschema@.rate_limit_replay(policy text, key text,
    costs integer[], times bigint[])
RETURNS integer
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'nk_sql_rate_limit_replay';
ALTER FUNCTION @extschema@.rate_limit_replay(text, text, integer[], bigint[])
    OWNER TO namaskah_owner;

-- rate_limit_rebuild(): replaces rate_limit_state by the replay, per key in
-- time order and at their own times, of the consumption kept in audit
-- records that can still matter (two windows back, or twice the time a
-- bucket takes to refill from empty, whichever is longer, for the longest
-- policy), then writes rate_limit_epoch. Run by the first decision that
-- finds rate_limit_epoch empty, under an advisory lock; returns the events
-- replayed. Consumption by policies since deleted is skipped. Reads the
-- audit records of the look-back (audit_rate_consumption, part 65: newest
-- first along the primary key), once per crash or failover; each key is
-- replayed in memory and written once (replaying through rate_limit_check
-- in one transaction made a hot key's row versions pile up: quadratic).
CREATE FUNCTION @extschema@.rate_limit_rebuild()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lookback interval;
    replayed bigint := 0;
    grp record;
BEGIN
    -- another backend rebuilt while this one waited for the lock
    IF EXISTS (SELECT FROM @extschema@.rate_limit_epoch) THEN
        RETURN 0;
    END IF;
    SELECT coalesce(max(make_interval(secs => 2 * greatest(p.window_seconds,
               p.window_seconds::numeric * coalesce(p.burst, p."limit")
               / greatest(p."limit", 1)))), interval '0')
    INTO lookback FROM @extschema@.rate_limit_policies p;
    DELETE FROM @extschema@.rate_limit_state;
    DELETE FROM @extschema@.rate_limit_epoch;
    FOR grp IN
        SELECT c.policy, c.key,
               array_agg(c.cost ORDER BY c.t_us, c.record_id) AS costs,
               array_agg(c.t_us ORDER BY c.t_us, c.record_id) AS times
        FROM @extschema@.audit_rate_consumption(now() - lookback) AS c
        WHERE EXISTS (SELECT FROM @extschema@.rate_limit_policies p WHERE p.name = c.policy)
        GROUP BY c.policy, c.key
    LOOP
        replayed := replayed + @extschema@.rate_limit_replay(grp.policy, grp.key,
                                                              grp.costs, grp.times);
    END LOOP;
    INSERT INTO @extschema@.rate_limit_epoch (events_replayed) VALUES (replayed);
    RETURN replayed;
END
$$;
ALTER FUNCTION @extschema@.rate_limit_rebuild() OWNER TO namaskah_owner;

-- rate_limit_purge: deletes up to max_rows expired state rows (oldest first,
-- skipping rows other transactions hold) and returns how many. Checks already
-- do this a few rows at a time; run it from cron after a flood if wanted.
CREATE FUNCTION @extschema@.rate_limit_purge(
    max_rows integer DEFAULT 10000,
    now timestamptz DEFAULT pg_catalog.clock_timestamp())
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    deleted bigint;
BEGIN
    IF max_rows IS NULL OR max_rows < 0 THEN
        RAISE EXCEPTION 'max_rows must be zero or more'
            USING ERRCODE = '22023';
    END IF;
    IF now IS NULL OR NOT pg_catalog.isfinite(now) THEN
        RAISE EXCEPTION 'now must be a finite timestamp'
            USING ERRCODE = '22023';
    END IF;
    DELETE FROM @extschema@.rate_limit_state
    WHERE ctid = ANY (ARRAY(
        SELECT s.ctid FROM @extschema@.rate_limit_state s
        WHERE s.expires_at < rate_limit_purge.now
        ORDER BY s.expires_at
        LIMIT max_rows
        FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$$;
ALTER FUNCTION @extschema@.rate_limit_purge(integer, timestamptz)
    OWNER TO namaskah_owner;

-- set_default_rate_limit: the 'default' policy from RATE_LIMIT_REQUESTS and
-- RATE_LIMIT_WINDOW (called by namaskahd at start; operators only).
CREATE FUNCTION @extschema@.set_default_rate_limit(requests integer, window_seconds integer)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF requests IS NULL OR requests < 1 THEN
        RAISE EXCEPTION 'RATE_LIMIT_REQUESTS must be a positive integer'
            USING ERRCODE = '22023',
                  DETAIL = pg_catalog.format('The value given was %s.', coalesce(requests::text, 'null'));
    END IF;
    IF window_seconds IS NULL OR window_seconds < 1 THEN
        RAISE EXCEPTION 'RATE_LIMIT_WINDOW must be a positive number of seconds'
            USING ERRCODE = '22023',
                  DETAIL = pg_catalog.format('The value given was %s.', coalesce(window_seconds::text, 'null'));
    END IF;
    INSERT INTO @extschema@.rate_limit_policies AS p
        (name, algorithm, "limit", window_seconds, scope, description)
    VALUES ('default', 'fixed_window', requests, window_seconds, 'user',
            'Every route without its own policy: per user (per client address when anonymous)')
    ON CONFLICT (name) DO UPDATE
        SET "limit" = excluded."limit", window_seconds = excluded.window_seconds
        WHERE (p."limit", p.window_seconds) IS DISTINCT FROM (excluded."limit", excluded.window_seconds);
END
$$;
ALTER FUNCTION @extschema@.set_default_rate_limit(integer, integer)
    OWNER TO namaskah_owner;

-- A policy whose algorithm or window changes (or that is deleted or renamed)
-- would misread its old state: forget that state; the same when its number
-- of slots changes (the state would be split differently). A changed limit,
-- burst or cost that keeps the number of slots keeps it (the arithmetic
-- copes with a lowered quota).
CREATE FUNCTION @extschema@.rate_limit_policies_forget_state()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE'
       OR OLD.name <> NEW.name
       OR OLD.algorithm <> NEW.algorithm
       OR OLD.window_seconds <> NEW.window_seconds
       OR @extschema@.rate_limit_slots(OLD.algorithm, OLD."limit", OLD.burst, OLD.slots)
          <> @extschema@.rate_limit_slots(NEW.algorithm, NEW."limit", NEW.burst, NEW.slots) THEN
        DELETE FROM @extschema@.rate_limit_state s WHERE s.policy = OLD.name;
    END IF;
    RETURN NULL;
END
$$;
ALTER FUNCTION @extschema@.rate_limit_policies_forget_state() OWNER TO namaskah_owner;

CREATE TRIGGER rate_limit_policies_forget_state
    AFTER UPDATE OR DELETE ON @extschema@.rate_limit_policies
    FOR EACH ROW EXECUTE FUNCTION @extschema@.rate_limit_policies_forget_state();
-- each backend's copy of the policies (extension/ratelimit.c) is dropped
-- when the table changes
CREATE TRIGGER rate_limit_policies_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.rate_limit_policies
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.cache_invalidate();

-- rate_limit_policy_info(name): a policy's scope and window, for the
-- pipeline's admission stage (C, the same per-backend copy the decisions
-- read); both NULL for an unknown name.
CREATE FUNCTION @extschema@.rate_limit_policy_info(name text,
    OUT scope text, OUT window_seconds integer)
AS 'MODULE_PATHNAME', 'nk_sql_rate_limit_policy_info'
LANGUAGE C STABLE STRICT;
