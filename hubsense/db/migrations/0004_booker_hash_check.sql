-- Bookings keep no personal data (SPEC §7): a booker only as a salted hash. Writers hash with
-- hubsense.privacy.hash_booker ('hmac-sha256:' and 64 hex digits); this check is the last line
-- of defence, so a writer that forgot to hash can never store a name or an e-mail address.
-- (A bare 64-hex-digit digest is accepted too: that cannot be a name either.)
ALTER TABLE bookings ADD CONSTRAINT bookings_booker_hash_is_a_hash
    CHECK (booker_hash IS NULL OR booker_hash ~ '^(hmac-sha256:)?[0-9a-f]{64}$');
