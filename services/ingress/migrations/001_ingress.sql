-- Partner ingress: agency API keys and the audit trail of every submission. Written only by the
-- ingress service and by `frontdoor agencies`.

-- One row per API key. Only the argon2id hash of the secret is stored; the key itself is shown
-- once when issued. A key is valid while revoked_at is NULL or in the future (a rotation's grace).
CREATE TABLE IF NOT EXISTS agency_credentials (
    credential_id text        PRIMARY KEY CHECK (credential_id ~ '^[0-9a-f]{16}$'),
    agency        text        NOT NULL,
    label         text        NOT NULL DEFAULT '',
    secret_hash   text        NOT NULL CHECK (secret_hash LIKE '$argon2%'),
    created_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    replaced_by   text        REFERENCES agency_credentials (credential_id),
    last_used_at  timestamptz
);
CREATE INDEX IF NOT EXISTS agency_credentials_agency ON agency_credentials (agency);

-- One row per request to POST /v1/events, whatever its outcome (401, 403, 413, 429 included):
-- who (agency, credential), from where, when, the answer, and which event ids — never a payload.
-- credential_id is the id the caller claimed, so it is not a foreign key: an unknown id is
-- exactly what a failed authentication looks like.
CREATE TABLE IF NOT EXISTS ingress_audit (
    audit_id         bigserial   PRIMARY KEY,
    request_id       uuid        NOT NULL UNIQUE,
    received_at      timestamptz NOT NULL,
    agency           text,
    credential_id    text,
    client_addr      text,
    status           smallint    NOT NULL,
    outcome          text        NOT NULL
        CHECK (outcome IN ('accepted', 'partially_accepted', 'rejected', 'failed')),
    code             text,
    events_received  integer     NOT NULL,
    events_accepted  integer     NOT NULL,
    events_rejected  integer     NOT NULL,
    accepted_ids     uuid[]      NOT NULL,
    rejected_ids     uuid[]      NOT NULL,
    unconfirmed_ids  uuid[]      NOT NULL,
    body_bytes       integer     NOT NULL,
    duration_ms      real        NOT NULL
);
CREATE INDEX IF NOT EXISTS ingress_audit_time ON ingress_audit (received_at);
CREATE INDEX IF NOT EXISTS ingress_audit_agency_time ON ingress_audit (agency, received_at);
CREATE INDEX IF NOT EXISTS ingress_audit_refused
    ON ingress_audit (received_at) WHERE status IN (401, 403);
-- "who submitted event X?": a GIN index over the accepted ids
CREATE INDEX IF NOT EXISTS ingress_audit_accepted_ids ON ingress_audit USING gin (accepted_ids);

-- The audit trail is history: nothing updates or deletes it.
CREATE OR REPLACE FUNCTION ingress_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ingress_audit is append-only (% refused)', TG_OP;
END $$;
DROP TRIGGER IF EXISTS ingress_audit_no_update ON ingress_audit;
CREATE TRIGGER ingress_audit_no_update BEFORE UPDATE OR DELETE ON ingress_audit
    FOR EACH ROW EXECUTE FUNCTION ingress_audit_append_only();
