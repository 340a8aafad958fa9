-- External systems' health (the circuit breaker's state, shared by hub processes and the dashboard),
-- their outage history (the contingency rule needs it), and deliveries deferred while a system is
-- down, kept in arrival order to be made in that order when it returns.

CREATE TABLE connector_health (
    connector     text PRIMARY KEY,
    state         text        NOT NULL DEFAULT 'closed',
    failures      integer     NOT NULL DEFAULT 0,
    down_since    timestamptz,
    last_success  timestamptz,
    last_failure  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE outages (
    id          bigserial   PRIMARY KEY,
    connector   text        NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE UNIQUE INDEX outages_open ON outages (connector) WHERE ended_at IS NULL;

CREATE TABLE deferred (
    seq          bigserial   PRIMARY KEY,
    connector    text        NOT NULL,
    queue        text        NOT NULL,
    message_id   uuid        NOT NULL,
    body         bytea       NOT NULL,
    headers      jsonb       NOT NULL DEFAULT '{}',
    sort_at      timestamptz NOT NULL,
    deferred_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (queue, message_id)
);
CREATE INDEX deferred_order ON deferred (connector, sort_at, seq);
