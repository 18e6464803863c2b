-- The stream pipeline's own tables (services/common/pipeline.py), shared by every stream service.

-- Idempotency ledger: (consumer, event_id) is claimed in the same transaction as the view change,
-- so a redelivery (or a catch-up from the outbox racing the live stream) is a no-op. The content
-- hash tells a true repeat from an event id reused for other content.
CREATE TABLE IF NOT EXISTS processed_events (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
ALTER TABLE processed_events ADD COLUMN IF NOT EXISTS content_hash bytea;
CREATE INDEX IF NOT EXISTS processed_events_age ON processed_events (processed_at);

-- The transactional outbox: every record a handler emits (and every dead letter) is written here
-- in the handler's transaction, relayed to Kafka after the commit and kept for the retention
-- period, so a consumer can catch up from PostgreSQL when the broker has forgotten a record.
-- `partition` is chosen here (Kafka's default murmur2 partitioner over the topic's partition
-- count) and the relay sends to exactly that partition. `relay_ts` is the Kafka timestamp of the
-- last send: a record the broker no longer holds is one relayed before the partition's oldest
-- record.
CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial   PRIMARY KEY,
    event_id      uuid        NOT NULL,
    event_type    text,
    producer      text        NOT NULL,
    topic         text        NOT NULL,
    partition     integer     NOT NULL,
    key           bytea,
    value         bytea,
    headers       jsonb       NOT NULL DEFAULT '[]',  -- [[name, base64 value], …], in order
    created_at    timestamptz NOT NULL DEFAULT now(),
    relay_ts      timestamptz,
    relayed_at    timestamptz,
    lease_until   timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (id) WHERE relayed_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_by_partition ON outbox (topic, partition, id);
CREATE INDEX IF NOT EXISTS outbox_age ON outbox (created_at);
