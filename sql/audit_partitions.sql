-- The audit log partitioned by day: partitions created ahead (also by the
-- append path itself), records routed to today's, the archive functions'
-- refusals and privileges. Archiving end to end: test/ops/archive_audit.sh.
\set VERBOSITY terse

SELECT c.relkind, (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid) >= 8 AS partitions
FROM pg_class c WHERE c.oid = 'namaskah.audit_log'::regclass;
-- today and the coming week, none of them members of the extension
SELECT count(*) >= 8 AS ahead FROM namaskah.audit_partitions() WHERE range_to > now();
SELECT count(*) AS member_partitions FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
WHERE d.deptype = 'e' AND c.relnamespace = 'namaskah_audit'::regnamespace;
SELECT status FROM namaskah.handle_request('GET', '/api/version', '', '{}', NULL, '192.0.2.7', 'part-1');
SELECT tableoid::regclass::text = 'namaskah_audit.audit_log_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')
       AS in_todays_partition
FROM namaskah.audit_log WHERE request_id = 'part-1';

-- Without the coming days' partitions, the next backend's first append
-- creates them: nobody has to remember to.
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT partition FROM namaskah.audit_partitions() WHERE range_from > now() LOOP
        EXECUTE format('ALTER TABLE namaskah.audit_log DETACH PARTITION namaskah_audit.%I', t);
        EXECUTE format('DROP TABLE namaskah_audit.%I', t);
    END LOOP;
END
$$;
SELECT count(*) AS ahead FROM namaskah.audit_partitions() WHERE range_from > now();
\c
SELECT status FROM namaskah.handle_request('GET', '/api/version', '', '{}', NULL, '192.0.2.7', 'part-2');
SELECT count(*) >= 7 AS ahead_again FROM namaskah.audit_partitions() WHERE range_from > now();
SELECT ok FROM namaskah.audit_verify();

-- Refusals: clear errors, nothing archived.
-- (today's name shown as audit_log_TODAY: the expected output holds no date)
DO $$
BEGIN
    PERFORM namaskah.audit_archive_seal('audit_log_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD'));
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '% %', SQLSTATE, replace(SQLERRM,
        to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD'), 'TODAY');
END
$$;
SELECT namaskah.audit_archive_seal('audit_log_19990101');
SELECT namaskah.audit_archive_drop('audit_log_19990101', '{}', repeat('0', 64));
SELECT namaskah.audit_archive_drop('audit_log_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD'), '{}', 'not a checksum');
SELECT namaskah.audit_verify_continuation('{"format": "something else"}');
SELECT namaskah.audit_partitions_ensure(now(), now() - interval '1 day');
SELECT namaskah.audit_partitions_ensure(now(), now() + interval '400 days');
SELECT count(*) AS archives FROM namaskah.audit_archives;

-- Archiving is a superuser's: neither the pipeline nor the API may.
SET ROLE namaskah_owner;
SELECT namaskah.audit_archive_drop('audit_log_19990101', '{}', repeat('0', 64));
SELECT namaskah.audit_archive_seal('audit_log_19990101');
SELECT namaskah.audit_partitions_maintain() > now() AS pipeline_maintains;
RESET ROLE;
SET ROLE namaskah_api;
SELECT * FROM namaskah.audit_partitions();
SELECT count(*) FROM namaskah_audit.audit_log_19990101;
RESET ROLE;
-- archives are append-only too
SET ROLE namaskah_auditor;
TRUNCATE namaskah.audit_archives;
RESET ROLE;
