-- Reconciliation with BNMP, the register of record (R417 art.1; S003 ch. IV, art. 5): the drift the
-- last reconciliation found, replaced whole by each run, so the dashboard and the metrics read what
-- is wrong now (each run is also logged).
CREATE TABLE bnmp_drift (
    kind      text        NOT NULL,
    subject   text        NOT NULL,
    court     text        NOT NULL,
    detail    text        NOT NULL,
    found_at  timestamptz NOT NULL,
    PRIMARY KEY (kind, subject)
);
