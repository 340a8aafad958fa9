-- Operators' dangerous actions under four eyes, one bulk replay per filter, and secret dead letters.

-- 1. Approvals: an edit-and-replay, or a bulk replay of more than `ops.approval_above` letters, is
--    requested by one person and runs only when a second admin approves it (`hub/ops/approvals.py`).
--    States: pending, approved, rejected, expired. `outcome` is what the approved action did.
CREATE TABLE ops_approvals (
    id               bigserial   PRIMARY KEY,
    action           text        NOT NULL CHECK (action IN ('edit_replay', 'bulk_replay')),
    state            text        NOT NULL DEFAULT 'pending',
    requested_at     timestamptz NOT NULL,
    requested_by     text        NOT NULL,
    requester_role   text        NOT NULL,
    request_reason   text        NOT NULL,
    subject          text,
    dead_letter_id   bigint,
    edited_body      bytea,
    changes          jsonb       NOT NULL DEFAULT '[]',
    selection        jsonb,
    selection_key    text,
    letter_ids       bigint[]    NOT NULL DEFAULT '{}',
    rate_per_s       real,
    decided_at       timestamptz,
    decided_by       text,
    decision_reason  text,
    outcome          jsonb
);
CREATE INDEX ops_approvals_pending ON ops_approvals (id) WHERE state = 'pending';
-- One pending bulk request per filter.
CREATE UNIQUE INDEX ops_approvals_one_pending_bulk ON ops_approvals (selection_key)
    WHERE state = 'pending' AND action = 'bulk_replay';

-- 2. One bulk replay at a time per filter: `selection_key` is a hash of the canonical filter.
ALTER TABLE replay_jobs
    ADD COLUMN selection_key text,
    ADD COLUMN approved_by   text;
CREATE UNIQUE INDEX replay_jobs_one_active ON replay_jobs (selection_key)
    WHERE state IN ('canary', 'running');

-- 3. A dead letter's secrecy, read from its body as it is stored (NULL when the body does not say):
--    viewers do not see secret (sigiloso, R417 art.34) documents' dead letters, audit or timeline.
CREATE FUNCTION dead_letter_secrecy(body bytea) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN left(convert_from(body, 'UTF8')::jsonb ->> 'secrecy', 20);
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
ALTER TABLE dead_letters ADD COLUMN secrecy text;
UPDATE dead_letters SET secrecy = dead_letter_secrecy(body);
CREATE FUNCTION dead_letter_set_secrecy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.secrecy := dead_letter_secrecy(NEW.body);
    RETURN NEW;
END
$$;
CREATE TRIGGER dead_letters_secrecy BEFORE INSERT ON dead_letters
    FOR EACH ROW EXECUTE FUNCTION dead_letter_set_secrecy();
CREATE INDEX dead_letters_secret ON dead_letters (correlation_id) WHERE secrecy = 'secret';
CREATE INDEX warrants_secret ON warrants (warrant_number) WHERE secrecy = 'secret';
CREATE INDEX release_orders_secret ON release_orders (order_number) WHERE secrecy = 'secret';

-- 4. The ops service's role (migration 0007) writes approvals and the new replay job columns.
DO $$
DECLARE
    ops text := left(current_schema(), 50) || '_ops';
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = ops) THEN
        EXECUTE format('GRANT INSERT, UPDATE ON ops_approvals TO %I', ops);
        EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I',
                       pg_get_serial_sequence(format('%I.ops_approvals', current_schema()), 'id'),
                       ops);
    END IF;
END
$$;
