-- hubsense:no-transaction
-- SPEC §4/§6: a desk whose sensors cannot tell (a BLE sensor silent for its stale_s, a
-- sensor that fails to read) is `unknown`: neither occupied nor observed until its next
-- occupied/vacant. ADD VALUE cannot be used in the transaction that adds it, so this
-- runs on its own; IF NOT EXISTS makes it safe to run again.
ALTER TYPE desk_state ADD VALUE IF NOT EXISTS 'unknown';
