-- The hub's state: inbox (idempotency), outbox (publishing, and the technical-acknowledgement ledger),
-- release orders and warrants (their lifecycles), business deadlines, dead letters and the audit chain.

CREATE TABLE inbox (
    consumer     text        NOT NULL,
    message_id   uuid        NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- A row per message the hub sends. Unconfirmed rows are what the relay must (re)publish; confirmed rows
-- stay as the technical-acknowledgement ledger (confirm, then the receiving consumer's ack).
CREATE TABLE outbox (
    id              bigserial   PRIMARY KEY,
    message_id      uuid        NOT NULL UNIQUE,
    exchange        text        NOT NULL,
    routing_key     text        NOT NULL,
    body            bytea       NOT NULL,
    headers         jsonb       NOT NULL DEFAULT '{}',
    kind            text        NOT NULL,
    correlation_id  text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    confirmed_at    timestamptz,
    acked_at        timestamptz
);
CREATE INDEX outbox_unconfirmed ON outbox (id) WHERE confirmed_at IS NULL;
CREATE INDEX outbox_correlation ON outbox (correlation_id);

CREATE TABLE release_orders (
    order_number     text        PRIMARY KEY,
    process_number   text        NOT NULL,
    state            text        NOT NULL,
    custodial_unit   text,
    issuing_court    text        NOT NULL,
    secrecy          text        NOT NULL,
    contingency      boolean     NOT NULL DEFAULT false,
    issued_at        timestamptz NOT NULL,
    received_at      timestamptz,
    validated_at     timestamptz,
    complied_at      timestamptz,
    released         boolean,
    bnmp_id          text,
    document         jsonb       NOT NULL,
    version          integer     NOT NULL DEFAULT 1,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX release_orders_state ON release_orders (state);

CREATE TABLE warrants (
    warrant_number   text        PRIMARY KEY,
    process_number   text        NOT NULL,
    person_key       text        NOT NULL,
    state            text        NOT NULL,
    species          text,
    valid_until      date,
    issuing_court    text,
    secrecy          text        NOT NULL DEFAULT 'public',
    bnmp_id          text,
    version          integer     NOT NULL DEFAULT 1,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- The projection of open warrants per person (what can keep someone detained).
CREATE INDEX warrants_open_by_person ON warrants (person_key) WHERE state IN ('pending', 'complied');

-- Business acknowledgements with a legal or configured deadline.
CREATE TABLE deadlines (
    subject       text        NOT NULL,
    kind          text        NOT NULL,
    started_at    timestamptz NOT NULL,
    due_at        timestamptz NOT NULL,
    satisfied_at  timestamptz,
    alerted       integer[]   NOT NULL DEFAULT '{}',
    PRIMARY KEY (subject, kind)
);
CREATE INDEX deadlines_open ON deadlines (due_at) WHERE satisfied_at IS NULL;

CREATE TABLE dead_letters (
    id               bigserial   PRIMARY KEY,
    message_id       uuid,
    connector        text        NOT NULL,
    queue            text        NOT NULL,
    kind             text,
    correlation_id   text,
    error_type       text        NOT NULL,
    reason           text        NOT NULL,
    error_message    text        NOT NULL DEFAULT '',
    trace            text        NOT NULL DEFAULT '',
    body             bytea       NOT NULL,
    headers          jsonb       NOT NULL DEFAULT '{}',
    attempts         integer     NOT NULL DEFAULT 0,
    failures         integer     NOT NULL DEFAULT 1,
    first_failed_at  timestamptz NOT NULL,
    last_failed_at   timestamptz NOT NULL,
    status           text        NOT NULL DEFAULT 'parked',
    status_at        timestamptz NOT NULL DEFAULT now(),
    replayed_as      uuid
);
CREATE UNIQUE INDEX dead_letters_once ON dead_letters (message_id, queue) WHERE message_id IS NOT NULL;
CREATE INDEX dead_letters_group ON dead_letters (status, reason, connector, kind);

-- Append-only and hash-chained: hash = sha256(prev_hash || canonical row). Writers serialise on an
-- advisory lock so the chain has one order; `python -m hub audit verify` walks it.
CREATE TABLE audit_log (
    seq        bigint      PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text        NOT NULL,
    action     text        NOT NULL,
    subject    text        NOT NULL,
    detail     jsonb       NOT NULL,
    prev_hash  bytea       NOT NULL,
    hash       bytea       NOT NULL
);
