-- namaskah install script, part 65: the entry function, the
-- tamper-evident audit log and security events.
--
-- Every request gets exactly one audit record, written by handle_request
-- after the pipeline ran, in the request's own transaction: the request's
-- effect, its accounting and its record commit together or not at all
-- (60_pipeline.sql). Records form hash chains: each backend appends to a
-- chain of its own (audit_chain_id(), C), so auditing never makes one
-- request wait for another; a record's hash covers its fields and its
-- predecessor's hash (core/nk_audit.c), so changing, deleting or reordering
-- a record breaks the chain, and audit_verify() names the first broken
-- record. audit_seal() records every chain's head, so cutting records off a
-- chain's end is detected too.
--
-- The table belongs to namaskah_auditor: the pipeline (namaskah_owner) can
-- only call audit_append; no API role can read it; a trigger refuses UPDATE,
-- DELETE and TRUNCATE even for the owner.

CREATE SEQUENCE @extschema@.audit_log_id_seq;
-- Partitioned by time (one partition per UTC day, schema namaskah_audit,
-- created ahead by audit_partitions_ensure below), so that an insert touches
-- only today's indexes however long the log grows, and a closed day can be
-- archived and dropped as a whole (audit_archive_*, scripts/archive_audit).
-- A unique constraint must include the partition key: id and (chain_id, seq)
-- are unique per day here, and across days by construction (the sequence;
-- one chain per backend) and by audit_verify, which fails on a repeated seq.
CREATE TABLE @extschema@.audit_log (
    id bigint NOT NULL,
    chain_id uuid NOT NULL,
    seq bigint NOT NULL CHECK (seq > 0),
    logged_at timestamptz NOT NULL,
    request_id text,
    actor text,
    method text,
    route text,
    status integer,
    outcome text,
    duration_ms integer,
    details jsonb NOT NULL DEFAULT '{}',
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (id, logged_at),
    UNIQUE (chain_id, seq, logged_at)
) PARTITION BY RANGE (logged_at);
-- No index on logged_at, on purpose: ids are handed out in time order, so
-- time filters (admin listing, rollup) walk the primary key from the newest
-- id; an index on logged_at (B-tree or BRIN) is a spot that every
-- concurrent insert updates (one 32-client run: 3289 -> 3954 tps without the
-- BRIN; a repeat was too noisy to confirm the size of the gain).
ALTER SEQUENCE @extschema@.audit_log_id_seq OWNED BY @extschema@.audit_log.id;
ALTER TABLE @extschema@.audit_log OWNER TO namaskah_auditor;
COMMENT ON TABLE @extschema@.audit_log IS
    'One record per request; append-only, hash-chained per backend (audit_verify checks it)';

-- The partitions live apart from the extension's own objects: they are
-- created while the service runs, are not members of the extension (a
-- backup reads their rows through audit_log, scripts/backup), and leave
-- only through audit_archive_drop.
CREATE SCHEMA namaskah_audit;
REVOKE ALL ON SCHEMA namaskah_audit FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA namaskah_audit TO namaskah_auditor;
COMMENT ON SCHEMA namaskah_audit IS 'The daily partitions of namaskah.audit_log';

CREATE TABLE @extschema@.audit_seals (
    chain_id uuid NOT NULL,
    seq bigint NOT NULL,
    hash bytea NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_id, seq)
);
ALTER TABLE @extschema@.audit_seals OWNER TO namaskah_auditor;

CREATE FUNCTION @extschema@.audit_refuse_change()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit records can be added, never changed or removed.';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON @extschema@.audit_log
    FOR EACH ROW EXECUTE FUNCTION @extschema@.audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON @extschema@.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_refuse_change();
CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON @extschema@.audit_seals
    FOR EACH ROW EXECUTE FUNCTION @extschema@.audit_refuse_change();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON @extschema@.audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_refuse_change();

-- ---------------------------------------------------------------------------
-- Partitions. One per UTC day, named namaskah_audit.audit_log_YYYYMMDD.
-- Creating them ahead never depends on an operator: audit_append (C) calls
-- audit_partitions_maintain() in a backend's first append and whenever the
-- time covered comes within a day of running out, and every metrics scrape
-- calls it too. A partition is created as a plain table and then attached,
-- which locks audit_log in SHARE UPDATE EXCLUSIVE mode only: appends in
-- other sessions go on meanwhile.
CREATE FUNCTION @extschema@.audit_partition_name(day date)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT 'audit_log_' || to_char($1, 'YYYYMMDD') $$;

-- audit_partitions_ensure(from_ts, to_ts): a partition for every UTC day
-- that [from_ts, to_ts] touches and that has none yet; returns how many it
-- created. A day at or before an archived one is refused: its records have
-- left the database for good.
CREATE FUNCTION @extschema@.audit_partitions_ensure(from_ts timestamptz, to_ts timestamptz)
RETURNS int
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    first_day date := (from_ts AT TIME ZONE 'UTC')::date;
    last_day date := (to_ts AT TIME ZONE 'UTC')::date;
    archived_until timestamptz := (SELECT max(a.range_to) FROM @extschema@.audit_archives a);
    d date;
    name text;
    lo text;
    hi text;
    created int := 0;
BEGIN
    IF from_ts IS NULL OR to_ts IS NULL OR to_ts < from_ts THEN
        RAISE EXCEPTION 'audit_partitions_ensure needs from_ts <= to_ts'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF last_day - first_day > 366 THEN
        RAISE EXCEPTION 'audit_partitions_ensure creates at most a year of partitions at once'
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    IF archived_until IS NOT NULL AND from_ts < archived_until THEN
        RAISE EXCEPTION 'the audit log before % has been archived', archived_until
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Records of an archived day cannot come back into the database.';
    END IF;
    d := first_day;
    WHILE d <= last_day LOOP
        name := @extschema@.audit_partition_name(d);
        IF to_regclass('namaskah_audit.' || name) IS NULL THEN
            -- ISO literals are read the same whatever DateStyle says
            lo := to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00';
            hi := to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00';
            EXECUTE format('CREATE TABLE namaskah_audit.%I (LIKE @extschema@.audit_log '
                           'INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
            -- the row triggers come with ATTACH; TRUNCATE is per table
            EXECUTE format('CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON namaskah_audit.%I '
                           'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_refuse_change()', name);
            EXECUTE format('ALTER TABLE @extschema@.audit_log ATTACH PARTITION namaskah_audit.%I '
                           'FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
            created := created + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN created;
END
$$;
ALTER FUNCTION @extschema@.audit_partitions_ensure(timestamptz, timestamptz) OWNER TO namaskah_auditor;
REVOKE ALL ON FUNCTION @extschema@.audit_partitions_ensure(timestamptz, timestamptz) FROM PUBLIC;

-- audit_partitions_maintain(): today's partition and the next seven days';
-- returns the end of the time covered without a gap from today. Only one
-- session creates at a time (an advisory lock); the others go on as long as
-- the current time is covered, and wait only when it is not.
CREATE FUNCTION @extschema@.audit_partitions_maintain()
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ahead constant int := 7;
    today date := (clock_timestamp() AT TIME ZONE 'UTC')::date;
    covered date := today;
BEGIN
    WHILE covered <= today + ahead
          AND to_regclass('namaskah_audit.' || @extschema@.audit_partition_name(covered)) IS NOT NULL LOOP
        covered := covered + 1;
    END LOOP;
    IF covered <= today + 1 THEN
        IF covered = today THEN
            PERFORM pg_advisory_xact_lock(hashtext('namaskah.audit_partitions'));
        ELSIF NOT pg_try_advisory_xact_lock(hashtext('namaskah.audit_partitions')) THEN
            RETURN (covered::timestamp AT TIME ZONE 'UTC');
        END IF;
        PERFORM @extschema@.audit_partitions_ensure(clock_timestamp(),
            (today + ahead)::timestamp AT TIME ZONE 'UTC');
        covered := today + ahead + 1;
    END IF;
    RETURN (covered::timestamp AT TIME ZONE 'UTC');
END
$$;
ALTER FUNCTION @extschema@.audit_partitions_maintain() OWNER TO namaskah_auditor;
REVOKE ALL ON FUNCTION @extschema@.audit_partitions_maintain() FROM PUBLIC;

-- audit_partitions(): every partition, oldest first, with its range, its
-- row count estimate and whether it may be archived now.
CREATE FUNCTION @extschema@.audit_partitions(
    OUT partition text, OUT range_from timestamptz, OUT range_to timestamptz,
    OUT estimated_rows bigint, OUT archivable boolean)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH p AS (
        SELECT c.relname::text AS partition, c.reltuples,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid),
                             'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)')) AS b
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = '@extschema@.audit_log'::regclass)
    SELECT p.partition, p.b[1]::timestamptz, p.b[2]::timestamptz,
           greatest(p.reltuples, 0)::bigint,
           p.b[2]::timestamptz <= now() - interval '1 hour'
               AND p.b[1]::timestamptz = min(p.b[1]::timestamptz) OVER ()
    FROM p ORDER BY 2
$$;
ALTER FUNCTION @extschema@.audit_partitions() OWNER TO namaskah_auditor;
REVOKE ALL ON FUNCTION @extschema@.audit_partitions() FROM PUBLIC;

-- Archived days: each row is one partition that left the database through
-- audit_archive_drop, with its seal (where each chain stood at its start and
-- end) and the checksum of the export the operator kept. The seal's chain
-- ends are where audit_verify picks the chains up again.
CREATE TABLE @extschema@.audit_archives (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partition text NOT NULL UNIQUE,
    range_from timestamptz NOT NULL,
    range_to timestamptz NOT NULL,
    records bigint NOT NULL,
    seal jsonb NOT NULL,
    export_sha256 text NOT NULL CHECK (export_sha256 ~ '^[0-9a-f]{64}$'),
    archived_at timestamptz NOT NULL DEFAULT now(),
    archived_by text NOT NULL DEFAULT session_user
);
ALTER TABLE @extschema@.audit_archives OWNER TO namaskah_auditor;
CREATE TRIGGER audit_archives_append_only BEFORE UPDATE OR DELETE ON @extschema@.audit_archives
    FOR EACH ROW EXECUTE FUNCTION @extschema@.audit_refuse_change();
CREATE TRIGGER audit_archives_no_truncate BEFORE TRUNCATE ON @extschema@.audit_archives
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_refuse_change();

-- The last archived record of every chain (from the archives' seals).
CREATE FUNCTION @extschema@.audit_archived_heads(
    OUT chain_id uuid, OUT seq bigint, OUT hash bytea)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT ON (1) (c->>'chain_id')::uuid, (c->>'last_seq')::bigint,
           decode(c->>'last_hash', 'hex')
    FROM @extschema@.audit_archives a, jsonb_array_elements(a.seal->'chains') c
    ORDER BY 1, 2 DESC
$$;

CREATE FUNCTION @extschema@.audit_chain_id()
RETURNS uuid
AS 'MODULE_PATHNAME', 'nk_sql_audit_chain_id'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.audit_hash(prev bytea, fields text[])
RETURNS bytea
AS 'MODULE_PATHNAME', 'nk_sql_audit_hash'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- What a record's hash covers, in order. Times as integer microseconds so
-- the encoding does not depend on DateStyle or TimeZone.
CREATE FUNCTION @extschema@.audit_fields(r @extschema@.audit_log)
RETURNS text[]
LANGUAGE sql STABLE
AS $$
    SELECT ARRAY[r.id::text, r.chain_id::text, r.seq::text,
        (extract(epoch FROM r.logged_at) * 1000000)::bigint::text,
        r.request_id, r.actor, r.method, r.route, r.status::text, r.outcome,
        r.duration_ms::text, r.details::text]
$$;

CREATE FUNCTION @extschema@.audit_genesis(chain_id uuid)
RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT sha256(convert_to('namaskah-audit-genesis:' || $1::text, 'UTF8')) $$;

-- audit_append: one record at the end of this backend's chain (C,
-- extension/audit.c: the chain's head kept per backend, forgotten on an
-- abort that takes an append back; the same fields and hash as audit_fields / audit_hash, which
-- audit_verify recomputes independently).
CREATE FUNCTION @extschema@.audit_append(request_id text, actor text, method text,
    route text, status int, outcome text, duration_ms int, details jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'nk_sql_audit_append'
LANGUAGE C VOLATILE SECURITY DEFINER;
-- (no SET clause: its statements are prepared under a pinned search_path,
-- extension/namaskah.h NK_SEARCH_PATH)
ALTER FUNCTION @extschema@.audit_append(text, text, text, text, int, text, int, jsonb)
    OWNER TO namaskah_auditor;

-- audit_seal: remember every chain's current head.
CREATE FUNCTION @extschema@.audit_seal()
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH heads AS (
        SELECT DISTINCT ON (a.chain_id) a.chain_id, a.seq, a.hash
        FROM @extschema@.audit_log a ORDER BY a.chain_id, a.seq DESC),
    added AS (
        INSERT INTO @extschema@.audit_seals (chain_id, seq, hash)
        SELECT h.chain_id, h.seq, h.hash FROM heads h
        ON CONFLICT DO NOTHING RETURNING 1)
    SELECT count(*) FROM added
$$;
ALTER FUNCTION @extschema@.audit_seal() OWNER TO namaskah_auditor;

-- audit_verify: checks the records with from_id <= id <= to_id (all by
-- default). ok is false when a record was changed (its hash no longer
-- matches), deleted or reordered (a gap or a broken link in its chain), or
-- when a sealed head is gone or differs; first_bad_id is the lowest id at
-- which that shows. A range check trusts the first record of each chain in
-- the range as its starting point. A chain whose first records were archived
-- (audit_archive_drop) starts where its archive's seal says it ended.
CREATE FUNCTION @extschema@.audit_verify(from_id bigint DEFAULT NULL, to_id bigint DEFAULT NULL,
    OUT ok boolean, OUT checked bigint, OUT first_bad_id bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r @extschema@.audit_log;
    prev @extschema@.audit_log;
    whole boolean := from_id IS NULL AND to_id IS NULL;
    bad boolean;
    seal record;
BEGIN
    checked := 0;
    FOR r IN
        SELECT * FROM @extschema@.audit_log a
        WHERE a.id BETWEEN coalesce(from_id, 0) AND coalesce(to_id, 9223372036854775807)
        ORDER BY a.chain_id, a.seq
    LOOP
        IF prev.chain_id IS DISTINCT FROM r.chain_id THEN
            -- a chain starts at its genesis, or where an archive left it
            bad := whole AND NOT ((r.seq = 1
                                   AND r.prev_hash = @extschema@.audit_genesis(r.chain_id))
                                  OR EXISTS (SELECT FROM @extschema@.audit_archived_heads() h
                                             WHERE h.chain_id = r.chain_id AND h.seq = r.seq - 1
                                               AND h.hash = r.prev_hash));
        ELSE
            bad := r.seq <> prev.seq + 1 OR r.prev_hash <> prev.hash;
        END IF;
        bad := bad OR r.hash <> @extschema@.audit_hash(r.prev_hash, @extschema@.audit_fields(r));
        IF bad THEN
            first_bad_id := least(first_bad_id, r.id);
        END IF;
        checked := checked + 1;
        prev := r;
    END LOOP;
    IF whole THEN
        FOR seal IN
            SELECT s.chain_id, s.seq, s.hash, a.id, a.hash AS actual
            FROM @extschema@.audit_seals s
            LEFT JOIN @extschema@.audit_log a ON a.chain_id = s.chain_id AND a.seq = s.seq
            WHERE (a.id IS NULL OR a.hash <> s.hash)
              -- a head that was archived is gone on purpose
              AND NOT EXISTS (SELECT FROM @extschema@.audit_archived_heads() h
                              WHERE h.chain_id = s.chain_id AND h.seq >= s.seq)
        LOOP
            -- the sealed head is gone: blame the last surviving record of its chain
            first_bad_id := least(first_bad_id, coalesce(seal.id,
                (SELECT max(a.id) FROM @extschema@.audit_log a WHERE a.chain_id = seal.chain_id), 0));
        END LOOP;
    END IF;
    ok := first_bad_id IS NULL;
END
$$;
ALTER FUNCTION @extschema@.audit_verify(bigint, bigint) OWNER TO namaskah_auditor;

-- ---------------------------------------------------------------------------
-- Archiving a closed day: the only way a record ever leaves the database
-- (scripts/archive_audit drives it; docs/audit.md#archiving).
--
-- audit_archive_seal(partition): checks the partition and describes it. It
-- must be the oldest partition and closed (its day ended over an hour ago);
-- every chain in it must verify, start at its genesis or where an earlier
-- archive left it, and continue after it only in later records. The seal
-- holds, per chain, its first and last record in the partition, and a digest
-- over every record hash in (chain, seq) order:
--   d0 = SHA-256('namaskah-audit-archive-v1'), d(i) = SHA-256(d(i-1) || hash(i))
-- scripts/archive_audit recomputes all of it offline from the export.
CREATE FUNCTION @extschema@.audit_archive_seal(partition text)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
    r @extschema@.audit_log;
    prev @extschema@.audit_log;
    first @extschema@.audit_log;
    chains jsonb := '[]';
    digest bytea := sha256(convert_to('namaskah-audit-archive-v1', 'UTF8'));
    n bigint := 0;
    chain_n bigint := 0;
    later bigint;
BEGIN
    SELECT * INTO p FROM @extschema@.audit_partitions() x WHERE x.partition = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no audit log partition named %', $1
            USING ERRCODE = 'undefined_table',
                  HINT = 'SELECT * FROM namaskah.audit_partitions() lists them.';
    ELSIF NOT p.archivable THEN
        RAISE EXCEPTION 'audit log partition % cannot be archived yet', $1
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Only the oldest partition is archived, once its day ended over an hour ago.';
    END IF;
    FOR r IN
        SELECT * FROM @extschema@.audit_log a
        WHERE a.logged_at >= p.range_from AND a.logged_at < p.range_to
        ORDER BY a.chain_id, a.seq
    LOOP
        IF prev.chain_id IS DISTINCT FROM r.chain_id THEN
            IF prev.chain_id IS NOT NULL THEN
                chains := chains || @extschema@.audit_archive_chain(first, prev, chain_n);
            END IF;
            first := r;
            chain_n := 0;
            IF NOT ((r.seq = 1 AND r.prev_hash = @extschema@.audit_genesis(r.chain_id))
                    OR EXISTS (SELECT FROM @extschema@.audit_archived_heads() h
                               WHERE h.chain_id = r.chain_id AND h.seq = r.seq - 1
                                 AND h.hash = r.prev_hash)) THEN
                PERFORM @extschema@.audit_archive_refuse($1, r.id, 'starts neither at its genesis nor where an archive left it');
            END IF;
        ELSIF r.seq <> prev.seq + 1 OR r.prev_hash <> prev.hash THEN
            PERFORM @extschema@.audit_archive_refuse($1, r.id, 'does not follow its predecessor');
        END IF;
        IF r.hash <> @extschema@.audit_hash(r.prev_hash, @extschema@.audit_fields(r)) THEN
            PERFORM @extschema@.audit_archive_refuse($1, r.id, 'does not match its hash');
        END IF;
        digest := sha256(digest || r.hash);
        n := n + 1;
        chain_n := chain_n + 1;
        prev := r;
    END LOOP;
    IF prev.chain_id IS NOT NULL THEN
        chains := chains || @extschema@.audit_archive_chain(first, prev, chain_n);
    END IF;
    -- what stays must all come after: no chain may go on in an earlier position
    SELECT a.id INTO later
    FROM jsonb_array_elements(chains) c
    JOIN @extschema@.audit_log a ON a.chain_id = (c->>'chain_id')::uuid
         AND a.seq <= (c->>'last_seq')::bigint AND a.logged_at >= p.range_to
    LIMIT 1;
    IF FOUND THEN
        PERFORM @extschema@.audit_archive_refuse($1, later, 'is a later record placed before the end of its chain in this partition');
    END IF;
    RETURN jsonb_build_object('format', 'namaskah-audit-archive-1', 'partition', $1,
        'range_from', @extschema@.json_time(p.range_from), 'range_to', @extschema@.json_time(p.range_to),
        'records', n, 'digest', encode(digest, 'hex'), 'chains', chains);
END
$$;

CREATE FUNCTION @extschema@.audit_archive_chain(first @extschema@.audit_log,
    last @extschema@.audit_log, records bigint)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
AS $$
    SELECT jsonb_build_array(jsonb_build_object('chain_id', first.chain_id,
        'first_seq', first.seq, 'first_prev_hash', encode(first.prev_hash, 'hex'),
        'last_seq', last.seq, 'last_hash', encode(last.hash, 'hex'), 'records', records))
$$;

CREATE FUNCTION @extschema@.audit_archive_refuse(partition text, record_id bigint, why text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RAISE EXCEPTION 'audit log partition % cannot be archived: record % %', partition, record_id, why
        USING ERRCODE = 'data_corrupted',
              HINT = 'Find the cause with namaskah.audit_verify(); nothing was archived.';
END
$$;

-- audit_archive_drop(partition, seal, export_sha256): after the export was
-- written and verified on its own, records the archive (with the seal the
-- export carries, which must still be the partition's, and the export's
-- checksum), audits the act itself, then detaches and drops the partition.
CREATE FUNCTION @extschema@.audit_archive_drop(partition text, seal jsonb, export_sha256 text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    current jsonb;
    archive_id bigint;
BEGIN
    IF export_sha256 IS NULL OR export_sha256 !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'export_sha256 must be 64 lowercase hex digits'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.audit_partitions() x WHERE x.partition = $1) THEN
        RAISE EXCEPTION 'no audit log partition named %', $1 USING ERRCODE = 'undefined_table';
    END IF;
    -- no record may arrive in the partition while it is sealed and dropped
    -- (the others take appends as usual)
    EXECUTE format('LOCK TABLE namaskah_audit.%I IN SHARE MODE', partition);
    current := @extschema@.audit_archive_seal(partition);
    IF seal IS DISTINCT FROM current THEN
        RAISE EXCEPTION 'the seal does not match audit log partition % as it is now', partition
            USING ERRCODE = 'data_corrupted',
                  HINT = 'Export the partition again (scripts/archive_audit export).';
    END IF;
    INSERT INTO @extschema@.audit_archives (partition, range_from, range_to, records, seal, export_sha256)
    VALUES (partition, (seal->>'range_from')::timestamptz, (seal->>'range_to')::timestamptz,
            (seal->>'records')::bigint, seal, export_sha256)
    RETURNING id INTO archive_id;
    PERFORM @extschema@.audit_append(NULL, 'operator:' || @extschema@.sanitize_log(session_user, 64),
        'ARCHIVE', 'audit.archive', 200, 'ok', NULL,
        jsonb_build_object('archive_id', archive_id, 'partition', partition,
            'range_from', seal->'range_from', 'range_to', seal->'range_to',
            'records', seal->'records', 'digest', seal->'digest', 'export_sha256', export_sha256));
    EXECUTE format('ALTER TABLE @extschema@.audit_log DETACH PARTITION namaskah_audit.%I', partition);
    EXECUTE format('DROP TABLE namaskah_audit.%I', partition);
    RETURN archive_id;
END
$$;

-- audit_verify_continuation(seal): the records that stay, checked against an
-- archive's seal (the one in its export, not the database's copy): no record
-- of an archived position is left, and every chain that goes on starts right
-- after the sealed end. audit_verify() checks the rest of each chain.
CREATE FUNCTION @extschema@.audit_verify_continuation(seal jsonb,
    OUT ok boolean, OUT chains bigint, OUT first_bad_id bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    nxt @extschema@.audit_log;
    left_over bigint;
BEGIN
    IF seal IS NULL OR seal->>'format' IS DISTINCT FROM 'namaskah-audit-archive-1'
       OR jsonb_typeof(seal->'chains') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'not an audit archive seal'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the seal.json of an export made by scripts/archive_audit.';
    END IF;
    chains := 0;
    FOR c IN
        SELECT (e->>'chain_id')::uuid AS chain_id, (e->>'last_seq')::bigint AS last_seq,
               decode(e->>'last_hash', 'hex') AS last_hash
        FROM jsonb_array_elements(seal->'chains') e
    LOOP
        chains := chains + 1;
        SELECT min(a.id) INTO left_over FROM @extschema@.audit_log a
        WHERE a.chain_id = c.chain_id AND a.seq <= c.last_seq;
        first_bad_id := least(first_bad_id, left_over);
        SELECT * INTO nxt FROM @extschema@.audit_log a
        WHERE a.chain_id = c.chain_id AND a.seq > c.last_seq ORDER BY a.seq LIMIT 1;
        IF FOUND AND (nxt.seq <> c.last_seq + 1 OR nxt.prev_hash <> c.last_hash) THEN
            first_bad_id := least(first_bad_id, nxt.id);
        END IF;
    END LOOP;
    ok := first_bad_id IS NULL;
END
$$;

DO $owners$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['audit_archive_seal(text)', 'audit_archive_drop(text, jsonb, text)',
                             'audit_verify_continuation(jsonb)'] LOOP
        EXECUTE format('ALTER FUNCTION @extschema@.%s OWNER TO namaskah_auditor', f);
        EXECUTE format('REVOKE ALL ON FUNCTION @extschema@.%s FROM PUBLIC', f);
    END LOOP;
END
$owners$;

-- audit_rate_consumption(since): the rate-limit consumption kept in the
-- records logged after since (details "rate_limits", written by
-- handle_request from rate_limit_consumed()), one row per event, for
-- rate_limit_rebuild (part 40). The only read of audit_log the owner role
-- has. Walks the primary key from the newest record back (ids are handed
-- out in time order; a minute of slack covers records that took their id
-- and committed late) and stops there: the cost is the look-back's records,
-- not the log's.
CREATE FUNCTION @extschema@.audit_rate_consumption(since timestamptz,
    OUT record_id bigint, OUT policy text, OUT key text, OUT cost int, OUT t_us bigint)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    e jsonb;
BEGIN
    FOR r IN SELECT a.id, a.logged_at, a.details->'rate_limits' AS events
             FROM @extschema@.audit_log a
             -- only the days that can hold the look-back (partition pruning)
             WHERE a.logged_at >= since - interval '1 day'
             ORDER BY a.id DESC LOOP
        EXIT WHEN r.logged_at < since - interval '1 minute';
        CONTINUE WHEN r.events IS NULL OR r.logged_at <= since
            OR jsonb_typeof(r.events) <> 'array';
        FOR e IN SELECT x FROM jsonb_array_elements(r.events) AS x LOOP
            record_id := r.id;
            policy := e->>0;
            key := e->>1;
            cost := (e->>2)::int;
            t_us := (e->>3)::bigint;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$$;
ALTER FUNCTION @extschema@.audit_rate_consumption(timestamptz) OWNER TO namaskah_auditor;
REVOKE ALL ON FUNCTION @extschema@.audit_rate_consumption(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.audit_rate_consumption(timestamptz) TO namaskah_owner;

-- Transport errors that namaskahd answered itself but still reports here, so
-- that every request it answers under /api/ has its audit record: requests
-- it refused (framing, encoding, size, time, method, version) and calls
-- whose own transaction failed or timed out. namaskahd drops any
-- x-namaskah-* header a client sends, so only it can set these; its detail
-- (x-namaskah-transport-detail) is its own static text.
CREATE FUNCTION @extschema@.transport_problem(error text, detail text,
    OUT status int, OUT code text, OUT detail text)
LANGUAGE sql IMMUTABLE
AS $$
    SELECT t.status, t.code, coalesce(left($2, 200), t.detail)
    FROM (VALUES
        (1, 'bad_request', 400, 'The request is malformed.'),
        (2, 'invalid_encoding', 400,
            'The request is not valid UTF-8 or contains NUL bytes.'),
        (3, 'request_timeout', 408, 'The request did not arrive in time.'),
        (4, 'payload_too_large', 413, 'The request body is too large.'),
        (5, 'header_fields_too_large', 431,
            'The request head is larger than this server accepts.'),
        (6, 'internal_error', 500,
            'The server could not process the request; quote the request id when reporting it.'),
        (7, 'method_not_implemented', 501, 'This HTTP method is not supported.'),
        (8, 'temporarily_unavailable', 503,
            'The database did not answer in time; try again shortly.'),
        (9, 'http_version_not_supported', 505,
            'Only HTTP/1.0 and HTTP/1.1 are supported.'))
        AS t(rank, code, status, detail)
    WHERE t.code = $1 OR t.rank = 1
    ORDER BY t.code = $1 DESC
    LIMIT 1
$$;

-- The entry point (C, extension/request.c: the stages of part 60, then the
-- request's audit record, stage 8). Every request under /api/ gets exactly
-- one record, in the request's own transaction, unless the setting
-- audit.enabled is exactly 'off' (anything else audits: fail closed). Its
-- actor is the verified user (sanitized) or the client address's pseudonym;
-- its details hold the path and user agent, sanitized and masked (emails,
-- phones, tokens, cards), a 429's policy, and what the request consumed of
-- its rate limits (keys are pseudonyms), for rebuilding their state after a
-- crash.
CREATE FUNCTION @extschema@.handle_request(
    method text, path text, query text, request_headers jsonb,
    request_body text, client_addr inet, request_id text,
    OUT status int, OUT headers jsonb, OUT body text)
AS 'MODULE_PATHNAME', 'nk_sql_handle_request'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.handle_request(text, text, text, jsonb, text, inet, text)
    OWNER TO namaskah_owner;
COMMENT ON FUNCTION @extschema@.handle_request(text, text, text, jsonb, text, inet, text) IS
    'The entry point of namaskahd: one call per HTTP request, returns (status, headers, body)';

-- Security events are derived from the audit records (one per request
-- already), never written per request: security_rollup() folds the records
-- that arrived since its last run into per-type totals (for metrics) and
-- per-actor, per-minute counts (for the admin API). It processes only
-- records older than a few seconds, so a transaction still committing an
-- earlier id is not skipped, and runs in one session at a time.
CREATE TABLE @extschema@.security_event_totals (
    type text NOT NULL,
    reason text NOT NULL,
    total bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (type, reason)
);
CREATE TABLE @extschema@.security_events (
    type text NOT NULL,
    actor text NOT NULL,
    minute timestamptz NOT NULL,
    count bigint NOT NULL,
    reasons jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (type, actor, minute)
);
CREATE INDEX security_events_minute_idx ON @extschema@.security_events (minute);
CREATE TABLE @extschema@.rate_limited_totals (
    policy text PRIMARY KEY,
    total bigint NOT NULL DEFAULT 0
);
ALTER TABLE @extschema@.rate_limited_totals OWNER TO namaskah_auditor;
CREATE TABLE @extschema@.security_rollup_state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_id bigint NOT NULL DEFAULT 0
);
INSERT INTO @extschema@.security_rollup_state DEFAULT VALUES;
ALTER TABLE @extschema@.security_event_totals OWNER TO namaskah_auditor;
ALTER TABLE @extschema@.security_events OWNER TO namaskah_auditor;
ALTER TABLE @extschema@.security_rollup_state OWNER TO namaskah_auditor;

-- Which outcomes are security events, and of what type.
CREATE FUNCTION @extschema@.security_event_type(status int, outcome text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE
        WHEN $2 = 'account_locked' THEN 'lockout'
        WHEN $1 = 401 THEN 'auth_failure'
        WHEN $1 = 429 THEN 'rate_limited'
        WHEN $1 = 403 THEN 'authorization_denied'
        WHEN $2 = 'invalid_encoding' THEN 'injection_attempt'
        WHEN $1 = 400 THEN 'validation_failure'
        END
$$;

CREATE FUNCTION @extschema@.security_rollup()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    start_id bigint;
    end_id bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('namaskah.security_rollup')) THEN
        RETURN 0;   -- another session is rolling up right now
    END IF;
    SELECT last_id INTO start_id FROM @extschema@.security_rollup_state;
    SELECT max(a.id) INTO end_id FROM @extschema@.audit_log a
    WHERE a.id > start_id AND a.logged_at < clock_timestamp()
        - make_interval(secs => @extschema@.setting('security.rollup_lag_seconds')::int);
    IF end_id IS NULL THEN
        RETURN 0;
    END IF;
    WITH events AS (
        SELECT @extschema@.security_event_type(a.status, a.outcome) AS type, a.outcome,
               a.actor, date_trunc('minute', a.logged_at) AS minute
        FROM @extschema@.audit_log a
        WHERE a.id > start_id AND a.id <= end_id),
    typed AS (SELECT * FROM events WHERE type IS NOT NULL),
    totals AS (
        INSERT INTO @extschema@.security_event_totals AS t (type, reason, total)
        SELECT type, outcome, count(*) FROM typed GROUP BY type, outcome
        ON CONFLICT (type, reason) DO UPDATE SET total = t.total + excluded.total),
    limited AS (
        INSERT INTO @extschema@.rate_limited_totals AS t (policy, total)
        SELECT coalesce(a.details->>'policy', 'unknown'), count(*)
        FROM @extschema@.audit_log a
        WHERE a.id > start_id AND a.id <= end_id AND a.status = 429
        GROUP BY 1
        ON CONFLICT (policy) DO UPDATE SET total = t.total + excluded.total)
    INSERT INTO @extschema@.security_events AS e (type, actor, minute, count, reasons)
    SELECT type, actor, minute, sum(n), jsonb_object_agg(outcome, n)
    FROM (SELECT type, actor, minute, outcome, count(*) AS n FROM typed
          GROUP BY type, actor, minute, outcome) g
    GROUP BY type, actor, minute
    ON CONFLICT (type, actor, minute) DO UPDATE SET count = e.count + excluded.count,
        reasons = (SELECT jsonb_object_agg(k, coalesce((e.reasons->>k)::bigint, 0)
                                              + coalesce((excluded.reasons->>k)::bigint, 0))
                   FROM (SELECT jsonb_object_keys(e.reasons || excluded.reasons) AS k) keys);
    UPDATE @extschema@.security_rollup_state SET last_id = end_id;
    RETURN end_id - start_id;
END
$$;
ALTER FUNCTION @extschema@.security_rollup() OWNER TO namaskah_auditor;

GRANT EXECUTE ON FUNCTION @extschema@.audit_append(text, text, text, text, int, text, int, jsonb)
    TO namaskah_owner;

-- GET /internal/metrics: the database's counters for namaskahd's /metrics
-- (several frontends, one truth). Only namaskahd itself calls this path: it
-- forwards nothing outside /api/ and /health/ready from clients. Each scrape
-- also does a bounded share of housekeeping: expired revocations and
-- rate-limit state are deleted a thousand rows at a time, and the audit
-- log's partitions for the coming days are created.
CREATE FUNCTION @extschema@.internal_metrics(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@.security_rollup();
    PERFORM @extschema@.audit_partitions_maintain();
    PERFORM @extschema@.purge_revocations(1000);
    PERFORM @extschema@.rate_limit_purge(1000);
    RETURN jsonb_build_object(
        'auth_failures', coalesce((SELECT jsonb_agg(jsonb_build_object('reason', t.reason, 'total', t.total)
                                                    ORDER BY t.reason)
                                   FROM @extschema@.security_event_totals t
                                   WHERE t.type IN ('auth_failure', 'lockout')), '[]'),
        'rate_limited', coalesce((SELECT jsonb_agg(jsonb_build_object('policy', t.policy, 'total', t.total)
                                                   ORDER BY t.policy)
                                  FROM @extschema@.rate_limited_totals t), '[]'),
        'security_events', coalesce((SELECT jsonb_agg(jsonb_build_object('type', g.type, 'total', g.total)
                                                      ORDER BY g.type)
                                     FROM (SELECT t.type, sum(t.total) AS total
                                           FROM @extschema@.security_event_totals t
                                           GROUP BY t.type) g), '[]'),
        'extension_version', (SELECT extversion FROM pg_extension WHERE extname = 'namaskah'),
        'signing_keys', (SELECT count(*) FROM @extschema@.signing_keys k WHERE k.retired_at IS NULL));
END
$$;
ALTER FUNCTION @extschema@.internal_metrics(jsonb) OWNER TO namaskah_owner;
GRANT SELECT ON @extschema@.security_event_totals, @extschema@.rate_limited_totals,
    @extschema@.security_events TO namaskah_owner;

INSERT INTO @extschema@.routes (method, path_template, target, auth, rate_limit_policy, description)
VALUES ('GET', '/internal/metrics', '@extschema@.internal_metrics(jsonb)', 'public', 'none',
        'Database counters for namaskahd /metrics (never forwarded from clients)');

-- Partitions are not members of the extension (see audit_log above): the
-- ones an install, an upgrade or a restore created inside the extension's
-- script are released from it here.
CREATE FUNCTION @extschema@.audit_partitions_release()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid
        WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'e'
          AND d.refclassid = 'pg_catalog.pg_extension'::regclass
          AND c.relnamespace = 'namaskah_audit'::regnamespace
    LOOP
        EXECUTE format('ALTER EXTENSION namaskah DROP TABLE %s', t);
    END LOOP;
END
$$;

-- The first partitions (today and the coming week).
DO $partitions$
BEGIN
    PERFORM @extschema@.audit_partitions_maintain();
    PERFORM @extschema@.audit_partitions_release();
END
$partitions$;
