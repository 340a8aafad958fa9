-- Operations: who last changed a dead letter and why a replay was refused; staged bulk replays and
-- their items; indexes for the dashboard's searches and for an order's timeline.

ALTER TABLE dead_letters
    ADD COLUMN status_by       text,
    ADD COLUMN replays         integer     NOT NULL DEFAULT 0,
    ADD COLUMN refused_code    text,
    ADD COLUMN refused_at      timestamptz;
CREATE INDEX dead_letters_recent ON dead_letters (last_failed_at DESC);
CREATE INDEX dead_letters_subject ON dead_letters (correlation_id text_pattern_ops);

CREATE INDEX audit_log_subject ON audit_log (subject, seq);
CREATE INDEX audit_log_operators ON audit_log (seq) WHERE actor LIKE 'ops:%';
CREATE INDEX outbox_created ON outbox (created_at) WHERE confirmed_at IS NULL;

-- A bulk replay: the dead letters it covers are fixed when it is created (replay_job_items, in
-- order); a canary goes first, the rest follow at `rate_per_s`, and the job stops after
-- `max_failures` failures in a row. States: canary, running, done, stopped, cancelled, interrupted.
CREATE TABLE replay_jobs (
    id             bigserial   PRIMARY KEY,
    created_at     timestamptz NOT NULL,
    created_by     text        NOT NULL,
    reason         text        NOT NULL,
    selection      jsonb       NOT NULL,
    state          text        NOT NULL DEFAULT 'canary',
    rate_per_s     real        NOT NULL,
    max_failures   integer     NOT NULL,
    total          integer     NOT NULL,
    stop_reason    text,
    updated_at     timestamptz NOT NULL,
    finished_at    timestamptz
);

-- Item states: pending, sent, ok, failed, refused, skipped.
CREATE TABLE replay_job_items (
    job_id          bigint      NOT NULL REFERENCES replay_jobs (id) ON DELETE CASCADE,
    seq             integer     NOT NULL,
    dead_letter_id  bigint      NOT NULL,
    state           text        NOT NULL DEFAULT 'pending',
    failures_before integer,
    detail          text,
    at              timestamptz,
    PRIMARY KEY (job_id, seq)
);

-- The envelope's correlation id is the order or warrant number; the AMQP property may be missing or
-- (when a client library fills it in) a random id. Store the envelope's, so dead letters can be found
-- by order or warrant number; a body that is not a JSON envelope keeps the AMQP one.
CREATE FUNCTION dead_letter_subject() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    subject text;
BEGIN
    BEGIN
        subject := left(convert_from(NEW.body, 'UTF8')::jsonb ->> 'correlation_id', 200);
    EXCEPTION WHEN others THEN
        subject := NULL;
    END;
    NEW.correlation_id := coalesce(subject, nullif(NEW.correlation_id, ''));
    RETURN NEW;
END
$$;
CREATE TRIGGER dead_letters_subject BEFORE INSERT ON dead_letters
    FOR EACH ROW EXECUTE FUNCTION dead_letter_subject();
