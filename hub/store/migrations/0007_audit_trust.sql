-- Trust in the audit chain that does not rest on the database's administrators.
--
-- 1. Signed checkpoints of the chain's head (`hub/domain/checkpoint.py`). The signing key is the hub
--    workers', never the database's; the hub also appends each checkpoint to a file outside the
--    database, and the ops API serves the ones kept here. A superuser can delete these rows; not
--    the copies kept elsewhere, which `audit verify --checkpoints FILE` checks the chain against.
CREATE TABLE audit_checkpoints (
    seq        bigint      PRIMARY KEY,
    hash       bytea       NOT NULL,
    at         timestamptz NOT NULL,
    key_id     text        NOT NULL,
    signature  bytea       NOT NULL
);

-- 2. Append-only, whoever asks: UPDATE, DELETE and TRUNCATE of the audit log or its checkpoints
--    fail, the tables' owner's included, unless the trigger is disabled first (which takes the
--    owner or a superuser, and is what the signed checkpoints are there to catch).
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_checkpoints FROM PUBLIC;

-- 3. A role per process, named after the schema (`hub_writer`, `hub_ops` for the schema `hub`):
--    `<schema>_writer` for the hub workers: every table's rows, but the audit log and its
--    checkpoints only INSERT (and SELECT), the migrations' record only SELECT, nothing TRUNCATE.
--    `<schema>_ops` for the ops service: read everything; write what an operator's action
--    writes (dead letters' status, replay jobs, audit entries and the chain's head).
--    Both are NOLOGIN groups: grant them to the login roles the processes use (`deploy/CLUSTER.md`).
--    Created only when the migrating role may (CREATEROLE or superuser); the grants are made
--    whenever the roles exist, and default privileges give tables of later migrations to the writer
--    (all rows) and to ops (SELECT). `grant_process_roles()` can be run again by a later migration.
CREATE FUNCTION grant_process_roles() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    s       text := current_schema();
    writer  text := left(current_schema(), 50) || '_writer';
    ops     text := left(current_schema(), 50) || '_ops';
    creator boolean;
BEGIN
    SELECT rolcreaterole OR rolsuper INTO creator FROM pg_roles WHERE rolname = current_user;
    IF creator THEN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = writer) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', writer);
        END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ops) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', ops);
        END IF;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = writer)
       OR NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ops) THEN
        RAISE NOTICE 'roles % and % not made: % may not create roles; the processes use its rights',
            writer, ops, current_user;
        RETURN;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I, %I', s, writer, ops);

    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', s, writer);
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_checkpoints FROM %I', writer);
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM %I', writer);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', s, writer);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE'
                   ' ON TABLES TO %I', s, writer);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I',
                   s, writer);

    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', s, ops);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO %I', s, ops);
    EXECUTE format('GRANT INSERT ON audit_log TO %I', ops);
    EXECUTE format('GRANT UPDATE ON audit_head TO %I', ops);
    EXECUTE format('GRANT UPDATE (status, status_at, status_by, replayed_as, replays, refused_code,'
                   ' refused_at) ON dead_letters TO %I', ops);
    EXECUTE format('GRANT INSERT, UPDATE ON replay_jobs, replay_job_items TO %I', ops);
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I',
                   pg_get_serial_sequence(format('%I.replay_jobs', s), 'id'), ops);
    -- A replay share-locks the order or warrant it concerns (SELECT ... FOR SHARE), which
    -- PostgreSQL allows only with an UPDATE privilege on some column: the least telling one.
    EXECUTE format('GRANT UPDATE (updated_at) ON release_orders, warrants TO %I', ops);
END
$$;
REVOKE EXECUTE ON FUNCTION grant_process_roles() FROM PUBLIC;
SELECT grant_process_roles();
