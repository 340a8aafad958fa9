-- The audit chain's head: its last (seq, hash), one row. Writers lock it (SELECT ... FOR UPDATE)
-- instead of taking an advisory lock and reading the last row: one round trip less per append,
-- and `audit verify` checks that the chain ends at the head, so rows cut off its end show.
-- Upgrade with every hub process stopped: a process of the previous version does not move the head.
-- The earlier writers' advisory lock ("HUBA"), so that an append under way is not missed.
SELECT pg_advisory_xact_lock(1213547073);
CREATE TABLE audit_head (
    one   boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq   bigint  NOT NULL,
    hash  bytea   NOT NULL
);
INSERT INTO audit_head (seq, hash)
    SELECT coalesce(max(seq), 0),
           coalesce((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1),
                    decode(repeat('00', 32), 'hex'))
    FROM audit_log;
