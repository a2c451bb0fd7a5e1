-- namaskah 2.4.0 -> 2.3.0, the way back, part 1 of 3 (the Makefile builds
-- namaskah--2.4.0--2.3.0.sql from: this file, the frozen 2.3.0 install
-- script namaskah--2.3.0.sql, and 2.4.0--2.3.0.post.sql). See
-- docs/MIGRATION.md.
--
-- Nothing is destroyed: every table of the extension is first copied, with
-- all its rows, into schema namaskah_holding, which is detached from the
-- extension (so it survives, is not dropped with it, and is readable only by
-- superusers); sequence values go to namaskah_holding._sequences. Then every
-- object of the extension is dropped, the 2.3.0 objects are created, and
-- part 3 fills the 2.3.0 tables from the held users and verifications. The
-- next upgrade to 2.4.0 puts every held row back (restore_held.sql).
--
-- What 2.3.0 runs without meanwhile: signing keys, the application secret,
-- revocations, rate-limit policies and state, the audit log and its seals,
-- security events, webhook replay protection, lockout state. Objects of your
-- own that depend on the extension's (views on its tables ...) are dropped
-- with them (CASCADE).

\echo Use "ALTER EXTENSION namaskah UPDATE TO '2.3.0'" to load this file. \quit

DO $hold$
DECLARE
    ext oid := (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'namaskah');
    t record;
    sel text;
BEGIN
    IF to_regnamespace('namaskah_holding') IS NOT NULL THEN
        RAISE EXCEPTION 'schema namaskah_holding already exists'
            USING ERRCODE = 'duplicate_schema',
                  DETAIL = 'It holds data from an earlier downgrade that an upgrade could not put back.',
                  HINT = 'Inspect it and rename or drop it, then downgrade again.';
    END IF;
    CREATE SCHEMA namaskah_holding;
    ALTER EXTENSION namaskah DROP SCHEMA namaskah_holding;
    REVOKE ALL ON SCHEMA namaskah_holding FROM PUBLIC;
    COMMENT ON SCHEMA namaskah_holding IS
        'Namaskah 2.4.0 data held by the downgrade to 2.3.0; the upgrade to 2.4.0 puts it back';
    -- Every table of the extension, whatever part created it.
    FOR t IN
        SELECT c.oid, c.relname
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_class c ON c.oid = d.objid
        WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refobjid = ext
          AND d.deptype = 'e' AND c.relkind IN ('r', 'p')
        ORDER BY c.relname
    LOOP
        -- Types that will not exist under 2.3.0 (the extension's own, reg*)
        -- are held as text and cast back on restore.
        SELECT string_agg(CASE
                   WHEN a.atttypid IN ('regproc'::regtype, 'regprocedure'::regtype,
                                       'regclass'::regtype, 'regtype'::regtype,
                                       'regoper'::regtype, 'regoperator'::regtype,
                                       'regnamespace'::regtype, 'regrole'::regtype,
                                       'regconfig'::regtype, 'regdictionary'::regtype)
                        OR ty.typnamespace IN (SELECT n.oid FROM pg_catalog.pg_namespace n
                                               WHERE n.nspname IN ('namaskah', 'api'))
                   THEN format('%I::text AS %I', a.attname, a.attname)
                   ELSE quote_ident(a.attname) END, ', ' ORDER BY a.attnum)
        INTO sel
        FROM pg_catalog.pg_attribute a
        JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
        WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped;
        EXECUTE format('CREATE TABLE namaskah_holding.%I AS SELECT %s FROM %s',
                       t.relname, sel, t.oid::regclass);
        EXECUTE format('ALTER EXTENSION namaskah DROP TABLE namaskah_holding.%I', t.relname);
    END LOOP;
    CREATE TABLE namaskah_holding._sequences (name text PRIMARY KEY, last_value bigint, is_called boolean);
    ALTER EXTENSION namaskah DROP TABLE namaskah_holding._sequences;
    FOR t IN
        SELECT c.oid, c.relname
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_class c ON c.oid = d.objid
        WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refobjid = ext
          AND d.deptype = 'e' AND c.relkind = 'S'
    LOOP
        EXECUTE format('INSERT INTO namaskah_holding._sequences SELECT %L, last_value, is_called FROM %s',
                       t.relname, t.oid::regclass);
    END LOOP;
    CREATE TABLE namaskah_holding._meta (held_at timestamptz NOT NULL, from_version text NOT NULL);
    ALTER EXTENSION namaskah DROP TABLE namaskah_holding._meta;
    INSERT INTO namaskah_holding._meta VALUES (now(), '2.4.0');
END
$hold$;

-- Drop every object of the extension. Configuration tables are detached
-- first so that pg_extension.extconfig forgets them.
DO $drop$
DECLARE
    ext oid := (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'namaskah');
    cfg regclass;
    o record;
    guard int := 0;
BEGIN
    FOR cfg IN SELECT unnest(e.extconfig)::regclass FROM pg_catalog.pg_extension e WHERE e.oid = ext LOOP
        EXECUTE format('ALTER EXTENSION namaskah DROP %s %s',
                       CASE WHEN (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = cfg) = 'S'
                            THEN 'SEQUENCE' ELSE 'TABLE' END, cfg);
        EXECUTE format('DROP %s %s CASCADE',
                       CASE WHEN (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = cfg) = 'S'
                            THEN 'SEQUENCE' ELSE 'TABLE' END, cfg);
    END LOOP;
    LOOP
        SELECT i.type, i.identity INTO o
        FROM pg_catalog.pg_depend d,
             LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) i
        WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.refobjid = ext
          AND d.deptype = 'e'
        ORDER BY (i.type = 'schema') DESC, (i.type IN ('table', 'view')) DESC
        LIMIT 1;
        EXIT WHEN NOT FOUND;
        guard := guard + 1;
        IF guard > 10000 THEN
            RAISE EXCEPTION 'could not drop the objects of extension namaskah (% left)', o.identity;
        END IF;
        EXECUTE format('DROP %s %s CASCADE',
                       CASE o.type WHEN 'composite type' THEN 'TYPE'
                                   ELSE upper(o.type) END, o.identity);
    END LOOP;
    -- 2.3.0 granted nothing on its schema.
    FOR o IN SELECT r.rolname FROM pg_catalog.pg_roles r
             WHERE r.rolname IN ('namaskah_owner', 'namaskah_api', 'namaskah_frontend', 'namaskah_auditor')
    LOOP
        EXECUTE format('REVOKE ALL ON SCHEMA @extschema@ FROM %I', o.rolname);
    END LOOP;
END
$drop$;

