-- Every record any consumer dead-lettered, with its original bytes and the dlq.* reason, kept in
-- PostgreSQL so `frontdoor dlq list|replay` and the dashboard survive a restart of the embedded
-- broker (which keeps nothing). Written only by the deadletter service.
CREATE TABLE IF NOT EXISTS deadletters (
    id                 bigserial   PRIMARY KEY,
    dlq_partition      integer     NOT NULL,
    dlq_offset         bigint      NOT NULL,
    reason             text        NOT NULL,
    exception_class    text        NOT NULL,
    exception_message  text        NOT NULL,
    original_topic     text        NOT NULL,
    original_partition integer     NOT NULL,
    original_offset    bigint      NOT NULL,
    consumer_group     text        NOT NULL,
    failed_at          timestamptz NOT NULL,
    record_key         bytea,
    record_value       bytea,
    record_headers     jsonb       NOT NULL,
    received_at        timestamptz NOT NULL DEFAULT now(),
    replayed_at        timestamptz,
    UNIQUE (consumer_group, original_topic, original_partition, original_offset)
);
CREATE INDEX IF NOT EXISTS deadletters_open ON deadletters (failed_at DESC) WHERE replayed_at IS NULL;
