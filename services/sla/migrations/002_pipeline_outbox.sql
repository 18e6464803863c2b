-- The SLA service on the shared pipeline (services/common/pipeline.py): every announcement now
-- reaches Kafka through the pipeline's `outbox` (services/common/migrations), relayed after the
-- commit with no row lock held. `sla_outbox` keeps only *scheduled* announcements: a breach the
-- lifecycle handler recorded (a late meet or cancel), which the scanner moves into `outbox` no
-- earlier than its `available_at`, in that order. Rows left by an earlier version are moved the
-- same way.
COMMENT ON TABLE sla_outbox IS
    'Scheduled sla.* announcements; the scanner moves each into outbox at its available_at.';

-- Early events are kept for FRONTDOOR_SLA_EARLY_EVENT_RETENTION_DAYS after `recorded_at` (the
-- worker's clock, written by the handler) and then forgotten by the scanner's leader, in chunks.
CREATE INDEX IF NOT EXISTS sla_early_events_age ON sla_early_events (recorded_at);
