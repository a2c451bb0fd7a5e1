-- fingerprint.sql — a temporary view describing the schema of the installed
-- namaskah extension, one row per fact, without OIDs (default privileges spelt out): every member object,
-- every column (type, NOT NULL, default), constraint, index, trigger,
-- row-level-security flag and policy of its tables, every function's
-- definition, owners, privileges and comments. Two databases whose views
-- hold the same rows have the same extension schema; used by
-- sql/zz_migration.sql and scripts/validate_migration to show that an
-- upgraded database equals a fresh install.
CREATE OR REPLACE TEMP VIEW namaskah_fingerprint (kind, object, fact) AS
WITH ext AS (
    SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'namaskah'
), members AS (
    SELECT d.classid, d.objid, i.type, i.identity
    FROM pg_catalog.pg_depend d
    CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) i
    WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass
      AND d.refobjid = (SELECT oid FROM ext) AND d.deptype = 'e'
), rels AS (
    SELECT c.oid, m.identity FROM members m JOIN pg_catalog.pg_class c ON c.oid = m.objid
    WHERE m.classid = 'pg_catalog.pg_class'::regclass
)
SELECT 'member', m.type || ' ' || m.identity, '' FROM members m
UNION ALL
SELECT 'owner', r.identity, pg_catalog.pg_get_userbyid(c.relowner)
       || ' ' || c.relkind::text || ' ' || c.relpersistence::text
       || ' rls=' || c.relrowsecurity || ' force=' || c.relforcerowsecurity
       || ' acl=' || coalesce(c.relacl, acldefault('r', c.relowner))::text
       || ' comment=' || coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '-')
FROM rels r JOIN pg_catalog.pg_class c ON c.oid = r.oid
UNION ALL
SELECT 'column', r.identity || '.' || a.attname,
       a.attnum || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), '')
       || coalesce(' acl=' || a.attacl::text, '')
FROM rels r
JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
UNION ALL
SELECT 'constraint', r.identity || ' ' || co.conname, pg_catalog.pg_get_constraintdef(co.oid)
FROM rels r JOIN pg_catalog.pg_constraint co ON co.conrelid = r.oid
UNION ALL
SELECT 'index', r.identity, pg_catalog.pg_get_indexdef(i.indexrelid)
FROM rels r JOIN pg_catalog.pg_index i ON i.indrelid = r.oid
UNION ALL
SELECT 'trigger', r.identity || ' ' || t.tgname, pg_catalog.pg_get_triggerdef(t.oid)
FROM rels r JOIN pg_catalog.pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
UNION ALL
SELECT 'policy', p.schemaname || '.' || p.tablename || ' ' || p.policyname,
       p.permissive || ' ' || p.cmd::text || ' ' || p.roles::text || ' '
       || coalesce(p.qual, '-') || ' ' || coalesce(p.with_check, '-')
FROM pg_catalog.pg_policies p
WHERE (p.schemaname || '.' || p.tablename) IN (SELECT identity FROM rels)
UNION ALL
SELECT 'function', m.identity,
       pg_catalog.md5(pg_catalog.pg_get_functiondef(p.oid))
       || ' owner=' || pg_catalog.pg_get_userbyid(p.proowner)
       || ' acl=' || coalesce(p.proacl, acldefault('f', p.proowner))::text
       || ' comment=' || coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), '-')
FROM members m JOIN pg_catalog.pg_proc p ON p.oid = m.objid
WHERE m.classid = 'pg_catalog.pg_proc'::regclass AND p.prokind <> 'a'
UNION ALL
SELECT 'schema', n.nspname, coalesce(n.nspacl, acldefault('n', n.nspowner))::text
       || ' comment=' || coalesce(pg_catalog.obj_description(n.oid, 'pg_namespace'), '-')
FROM pg_catalog.pg_namespace n WHERE n.nspname IN ('namaskah', 'api')
UNION ALL
SELECT 'config', c.oid::regclass::text, coalesce(e.extcondition[array_position(e.extconfig, c.oid)], '')
FROM pg_catalog.pg_extension e
CROSS JOIN LATERAL unnest(e.extconfig) AS cfg(oid)
JOIN pg_catalog.pg_class c ON c.oid = cfg.oid
WHERE e.extname = 'namaskah';
