-- restore_held.sql — puts the rows held in schema namaskah_holding back into
-- the extension's tables of the same names. Shared by the upgrade script
-- (namaskah--2.3.0--2.4.0.sql, after a downgrade held what 2.3.0 cannot
-- store) and by scripts/restore_backup (which loads a backup's extension data
-- into namaskah_holding first). Names the schema namaskah literally (the
-- extension is not relocatable) so it runs both inside an extension script
-- and from psql.
--
-- For each held table with a counterpart in namaskah: rows whose primary key
-- the fresh table already has (defaults the install script inserted, such as
-- settings) are replaced by the held ones, then every held row is inserted;
-- columns present on both sides are copied, with a cast through text where
-- the holding copy stored a type as text (regprocedure, extension types).
-- Foreign keys between held tables are satisfied by retrying the tables
-- that failed until a pass makes no progress (then the whole statement
-- fails and nothing is changed). Held sequence values (table _sequences) are
-- set back. Restored tables are dropped from the holding schema; tables named
-- in the setting namaskah.restore_exclude (comma-separated; default
-- rate_limit_state and rate_limit_epoch, whose contents are ephemeral, and
-- setting_definitions, which belongs to the release) are left there, as are
-- tables without a counterpart.
DO $restore$
DECLARE
    hs constant text := 'namaskah_holding';
    exclude text[] := string_to_array(coalesce(nullif(
        current_setting('namaskah.restore_exclude', true), ''),
        'rate_limit_state,rate_limit_epoch,setting_definitions'), ',');
    pending text[];
    still text[];
    t text;
    cols text;
    sel text;
    pk text;
    pk_sel text;
    s record;
BEGIN
    IF to_regnamespace(hs) IS NULL THEN
        RETURN;
    END IF;
    -- The audit log is partitioned by day (2.4.0): a partition for every
    -- day the held records need, first, kept out of the extension like the
    -- ones the service creates.
    IF to_regclass(hs || '.audit_log') IS NOT NULL
       AND to_regprocedure('namaskah.audit_partitions_ensure(timestamptz,timestamptz)') IS NOT NULL THEN
        EXECUTE format('SELECT count(namaskah.audit_partitions_ensure(d, d)) FROM (SELECT DISTINCT '
                       'date_trunc(''day'', logged_at AT TIME ZONE ''UTC'') AT TIME ZONE ''UTC'' AS d '
                       'FROM %I.audit_log) days', hs);
        IF to_regprocedure('namaskah.audit_partitions_release()') IS NOT NULL THEN
            PERFORM namaskah.audit_partitions_release();
        END IF;
    END IF;
    SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}') INTO pending
    FROM pg_catalog.pg_class c
    WHERE c.relnamespace = to_regnamespace(hs) AND c.relkind = 'r'
      AND c.relname::text <> ALL (exclude) AND left(c.relname, 1) <> '_'
      AND to_regclass(format('namaskah.%I', c.relname)) IS NOT NULL;
    WHILE cardinality(pending) > 0 LOOP
        still := '{}';
        FOREACH t IN ARRAY pending LOOP
            SELECT string_agg(quote_ident(n.attname), ', ' ORDER BY n.attnum),
                   string_agg(CASE WHEN h.atttypid = n.atttypid THEN quote_ident(h.attname)
                                   ELSE format('%I::text::%s', h.attname,
                                               format_type(n.atttypid, n.atttypmod)) END,
                              ', ' ORDER BY n.attnum)
            INTO cols, sel
            FROM pg_catalog.pg_attribute n
            JOIN pg_catalog.pg_attribute h ON h.attname = n.attname
            WHERE n.attrelid = format('namaskah.%I', t)::regclass
              AND h.attrelid = format('%I.%I', hs, t)::regclass
              AND n.attnum > 0 AND NOT n.attisdropped AND n.attgenerated = ''
              AND h.attnum > 0 AND NOT h.attisdropped;
            SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
                   string_agg(CASE WHEN h.atttypid = a.atttypid THEN quote_ident(h.attname)
                                   ELSE format('%I::text::%s', h.attname,
                                               format_type(a.atttypid, a.atttypmod)) END,
                              ', ' ORDER BY a.attnum)
            INTO pk, pk_sel
            FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            JOIN pg_catalog.pg_attribute h ON h.attname = a.attname
                 AND h.attrelid = format('%I.%I', hs, t)::regclass
            WHERE i.indrelid = format('namaskah.%I', t)::regclass AND i.indisprimary;
            BEGIN
                IF pk IS NOT NULL THEN
                    EXECUTE format('DELETE FROM namaskah.%I WHERE (%s) IN (SELECT %s FROM %I.%I)',
                                   t, pk, pk_sel, hs, t);
                END IF;
                EXECUTE format('INSERT INTO namaskah.%I (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %I.%I',
                               t, cols, sel, hs, t);
                EXECUTE format('DROP TABLE %I.%I', hs, t);
            EXCEPTION WHEN foreign_key_violation THEN
                still := still || t;
            END;
        END LOOP;
        IF cardinality(still) = cardinality(pending) THEN
            RAISE EXCEPTION 'cannot restore the held tables %', still
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = 'Their rows refer to rows that are neither held nor present.';
        END IF;
        pending := still;
    END LOOP;
    IF to_regclass(hs || '._sequences') IS NOT NULL THEN
        FOR s IN EXECUTE format('SELECT name, last_value, is_called FROM %I._sequences', hs) LOOP
            IF to_regclass(format('namaskah.%I', s.name)) IS NOT NULL THEN
                PERFORM setval(format('namaskah.%I', s.name)::regclass, s.last_value, s.is_called);
            END IF;
        END LOOP;
        EXECUTE format('DROP TABLE %I._sequences', hs);
    END IF;
END
$restore$;
