-- The append-only history of every accepted partner event: the audit trail and the source every
-- view can be rebuilt from. Written only by intake; event_id is the de-duplication key.
CREATE TABLE IF NOT EXISTS events (
    event_id        uuid PRIMARY KEY,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    child_id        text        NOT NULL,
    family_id       text,
    source_agency   text        NOT NULL,
    content_hash    bytea       NOT NULL,
    source_topic    text        NOT NULL,
    source_partition integer    NOT NULL,
    source_offset   bigint      NOT NULL,
    body            jsonb       NOT NULL
);
CREATE INDEX IF NOT EXISTS events_child_time ON events (child_id, occurred_at);
CREATE INDEX IF NOT EXISTS events_type_time ON events (event_type, occurred_at);
CREATE INDEX IF NOT EXISTS events_family_time ON events (family_id, occurred_at) WHERE family_id IS NOT NULL;

-- Events are history: nothing updates or deletes them.
CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events is append-only (% refused)', TG_OP;
END $$;
DROP TRIGGER IF EXISTS events_no_update ON events;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

-- Idempotency ledger for every consumer that writes: (consumer, event_id) commits in the same
-- transaction as the view change, so a redelivery is a no-op.
CREATE TABLE IF NOT EXISTS processed_events (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
