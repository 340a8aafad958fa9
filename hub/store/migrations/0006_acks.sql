-- The technical acknowledgement of every destination, tracked end to end (`hub.domain.acks`).
-- A row per message and destination queue is written with the outbox row, open (`acked_at` NULL),
-- and closed by the hub's consumer of that queue when it made the delivery (`acked_by` 'delivered')
-- or, for a custodial unit's queue, by the unit's answer ('receipt', 'compliance'). The reconciler
-- looks at an open row once its window has passed (`next_at`: when to look again), publishes that
-- copy again to that queue alone, counts the try (`tries`), and after a few tries alerts
-- (`alerted_at`) instead.
-- Messages sent before this migration are not tracked: the units' destinations never recorded an
-- acknowledgement, and tracking them now would publish them all again. Rows written before it keep
-- `acked_by` NULL (they were the hub's consumers' deliveries).
-- Upgrade with every hub process stopped: a process of the previous version writes no open rows.
ALTER TABLE outbox_acks
    ALTER COLUMN acked_at DROP NOT NULL,
    ALTER COLUMN acked_at DROP DEFAULT,
    ADD COLUMN acked_by   text,
    ADD COLUMN sent_at    timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN next_at    timestamptz,
    ADD COLUMN tries      integer     NOT NULL DEFAULT 0,
    ADD COLUMN alerted_at timestamptz;
-- The open rows, oldest first: the reconciler's scan, the dashboard's counts and list (the table
-- keeps every destination ever acknowledged; the open ones are few).
CREATE INDEX outbox_acks_open ON outbox_acks (sent_at) INCLUDE (queue, alerted_at)
    WHERE acked_at IS NULL;
