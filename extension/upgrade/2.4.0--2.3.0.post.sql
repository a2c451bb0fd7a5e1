
-- namaskah 2.4.0 -> 2.3.0, part 3 of 3: the held accounts and verifications
-- into the 2.3.0 tables; the held copies stay for the next upgrade.
--
-- Passwords: '$sha256$<hex>' (never logged in under 2.4.0) goes back to the
-- 2.3.0 hex form. A scrypt hash cannot be checked by 2.3.0: it is kept as it
-- is, so those accounts cannot log in under 2.3.0 until their password is
-- reset (scripts/migrate counts them), and log in with their old password
-- again once upgraded to 2.4.0.
INSERT INTO @extschema@.users (id, email, phone, password_hash, role, created_at)
SELECT h.id, h.email, h.phone,
       CASE WHEN h.password_hash ~ '^\$sha256\$[0-9a-f]{64}$' THEN substr(h.password_hash, 9)
            ELSE h.password_hash END,
       h.role, h.created_at
FROM namaskah_holding.users h;

INSERT INTO @extschema@.verifications (id, user_id, service, phone_number, status, code,
                                       created_at, expires_at)
SELECT h.id, h.user_id, h.service, h.phone_number, h.status, h.code, h.created_at, h.expires_at
FROM namaskah_holding.verifications h;
