-- One outbox row per message and destination set: the message goes to `routing_key` and to every
-- queue in `cc` in one publish (RabbitMQ's CC header). The technical acknowledgement is kept per
-- destination: a row here once the hub's consumer of that queue has made the delivery.
-- Upgrade with every hub process stopped: a process of the previous version writes `acked_at`.
ALTER TABLE outbox ADD COLUMN cc text[] NOT NULL DEFAULT '{}';

CREATE TABLE outbox_acks (
    message_id  uuid        NOT NULL,
    queue       text        NOT NULL,
    acked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, queue)
);
INSERT INTO outbox_acks (message_id, queue, acked_at)
    SELECT message_id, routing_key, acked_at FROM outbox WHERE acked_at IS NOT NULL;
ALTER TABLE outbox DROP COLUMN acked_at;
