-- One outbox row per message and destination set: the message goes to `routing_key` and to every
-- queue in `cc` in one publish (RabbitMQ's CC header). The technical acknowledgement is kept per
-- destination: a row here once the hub's consumer of that queue has made the delivery.
ALTER TABLE outbox ADD COLUMN cc text[] NOT NULL DEFAULT '{}';
ALTER TABLE outbox DROP COLUMN acked_at;

CREATE TABLE outbox_acks (
    message_id  uuid        NOT NULL,
    queue       text        NOT NULL,
    acked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, queue)
);
