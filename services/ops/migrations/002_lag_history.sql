-- Lag and throughput over time, for the ops dashboard's history chart (GET /api/history). The lag
-- poller writes one row per consumer group and topic every poll round (one INSERT per round):
-- the group's lag on that topic in records (summed over its partitions that have a commit; NULL
-- while none has), its largest time lag in seconds when known, and the topic's throughput in
-- records per second. A topic that no group reads is kept for its throughput alone, with
-- consumer_group ''. Rows older than FRONTDOOR_OPS_HISTORY_HOURS are deleted by the ops service
-- in bounded chunks (services/ops/adapters/history.py). Several ops replicas each write their own
-- samples; one taken at the very same moment by two of them is kept once.
CREATE TABLE IF NOT EXISTS ops_lag_history (
    sampled_at         timestamptz      NOT NULL,
    consumer_group     text             NOT NULL,
    topic              text             NOT NULL,
    lag                bigint           CHECK (lag IS NULL OR lag >= 0),
    lag_seconds        double precision CHECK (lag_seconds IS NULL OR lag_seconds >= 0),
    records_per_second double precision CHECK (records_per_second IS NULL OR records_per_second >= 0),
    PRIMARY KEY (sampled_at, consumer_group, topic)
);
-- The primary key leads with sampled_at: the chart's range read and the retention's
-- "older than the window" delete both walk it.
COMMENT ON TABLE ops_lag_history IS
    'Consumer lag and topic throughput per poll round; kept FRONTDOOR_OPS_HISTORY_HOURS.';
