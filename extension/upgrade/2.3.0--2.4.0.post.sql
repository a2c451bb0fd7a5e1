
-- namaskah 2.3.0 -> 2.4.0, part 3 of 3: every 2.3.0 row into the 2.4.0
-- tables (created above, row-level security on by construction), then the
-- rows a downgrade held (namaskah_holding) back into theirs.
--
-- Accounts: unsalted SHA-256 hashes are kept as '$sha256$<hex>', which
-- namaskah.authenticate_password verifies once and replaces with scrypt at
-- that successful login. A hash that is already scrypt (an account that
-- logged in under 2.4.0 before a downgrade) is kept as it is. Lockout state
-- and timestamps come back from the held 2.4.0 copy when there is one.
-- Verifications: country, provider and completion times were not recorded
-- by 2.3.0; held values are used when present, else country 'ZZ' (unknown),
-- provider 'sandbox', and completed_at / cancelled_at = created_at.

DO $check$
DECLARE
    dup bigint;
BEGIN
    SELECT count(*) INTO dup FROM (
        SELECT lower(email) FROM namaskah_v23.users GROUP BY 1 HAVING count(*) > 1) d;
    IF dup > 0 THEN
        RAISE EXCEPTION 'cannot upgrade: % email addresses are used by several accounts differing only in letter case', dup
            USING ERRCODE = 'unique_violation',
                  DETAIL = '2.4.0 allows one account per address, compared without case.',
                  HINT = 'Merge or rename those accounts under 2.3.0, then upgrade again.';
    END IF;
END
$check$;

-- (IF NOT EXISTS is refused on objects the extension does not own.)
DO $holding$
BEGIN
    IF to_regnamespace('namaskah_holding') IS NULL THEN
        CREATE SCHEMA namaskah_holding;
    END IF;
    IF to_regclass('namaskah_holding.users') IS NULL THEN
        CREATE TABLE namaskah_holding.users AS SELECT * FROM @extschema@.users WITH NO DATA;
    END IF;
    IF to_regclass('namaskah_holding.verifications') IS NULL THEN
        CREATE TABLE namaskah_holding.verifications AS
            SELECT * FROM @extschema@.verifications WITH NO DATA;
    END IF;
END
$holding$;

CREATE TABLE namaskah_v23.users_24 AS
SELECT o.id, o.email, lower(o.email) AS email_key, o.phone,
       CASE WHEN o.password_hash ~ '^[0-9a-f]{64}$' THEN '$sha256$' || o.password_hash
            ELSE o.password_hash END AS password_hash,
       o.role,
       coalesce(h.failed_logins, 0) AS failed_logins,
       h.locked_until,
       o.created_at,
       coalesce(h.updated_at, o.created_at) AS updated_at
FROM namaskah_v23.users o
LEFT JOIN namaskah_holding.users h ON h.id = o.id;

CREATE TABLE namaskah_v23.verifications_24 AS
SELECT o.id, o.user_id, o.service,
       coalesce(h.country, 'ZZ') AS country,
       o.phone_number,
       coalesce(h.provider, 'sandbox') AS provider,
       o.status, o.code, o.created_at, o.expires_at,
       CASE WHEN o.status = 'completed' THEN coalesce(h.completed_at, o.created_at) END AS completed_at,
       CASE WHEN o.status = 'cancelled' THEN coalesce(h.cancelled_at, o.created_at) END AS cancelled_at
FROM namaskah_v23.verifications o
LEFT JOIN namaskah_holding.verifications h ON h.id = o.id;

DROP TABLE namaskah_holding.users, namaskah_holding.verifications;
DROP TABLE namaskah_v23.verifications, namaskah_v23.users;
ALTER TABLE namaskah_v23.users_24 SET SCHEMA namaskah_holding;
ALTER TABLE namaskah_holding.users_24 RENAME TO users;
ALTER TABLE namaskah_v23.verifications_24 SET SCHEMA namaskah_holding;
ALTER TABLE namaskah_holding.verifications_24 RENAME TO verifications;
DROP SCHEMA namaskah_v23;

-- restore_held.sql follows (the same code scripts/restore_backup runs).
SELECT pg_catalog.set_config('namaskah.restore_exclude', 'rate_limit_state,rate_limit_epoch,setting_definitions', true);
