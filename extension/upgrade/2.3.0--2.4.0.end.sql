
-- namaskah 2.3.0 -> 2.4.0, the end: the holding schema goes once it holds
-- nothing but ephemeral state. A table that could not be matched to a 2.4.0
-- table stays there (with a warning), detached from the extension, for the
-- operator to inspect; nothing is dropped silently.
DO $end$
DECLARE
    left_over text;
BEGIN
    IF to_regnamespace('namaskah_holding') IS NULL THEN
        RETURN;
    END IF;
    DROP TABLE IF EXISTS namaskah_holding.rate_limit_state, namaskah_holding.rate_limit_epoch,
        namaskah_holding.setting_definitions, namaskah_holding._meta;
    SELECT string_agg(c.relname, ', ' ORDER BY c.relname) INTO left_over
    FROM pg_catalog.pg_class c
    WHERE c.relnamespace = 'namaskah_holding'::regnamespace AND c.relkind = 'r';
    IF left_over IS NULL THEN
        DROP SCHEMA namaskah_holding;
    ELSE
        IF EXISTS (SELECT FROM pg_catalog.pg_depend d
                   WHERE d.classid = 'pg_catalog.pg_namespace'::regclass
                     AND d.objid = 'namaskah_holding'::regnamespace AND d.deptype = 'e') THEN
            ALTER EXTENSION namaskah DROP SCHEMA namaskah_holding;
        END IF;
        RAISE WARNING 'schema namaskah_holding keeps tables that 2.4.0 has no place for: %', left_over
            USING HINT = 'Inspect them; drop the schema when they are no longer needed.';
    END IF;
END
$end$;
