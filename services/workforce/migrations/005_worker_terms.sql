-- A worker's FTE and case-holding as they stood on each day (issue 13: caps per profile). The
-- cap an allocation is checked against is cap_points x the FTE *in force on the allocation's
-- day*: a worker who goes from 0.5 to 1.0 FTE in March does not retrospectively lose the alert
-- their January allocation raised. One row per worker.joined (from employed_from) and per
-- worker.changed naming fte or case_holder (from effective_from); NULL = unchanged by that event.
CREATE TABLE IF NOT EXISTS workforce_worker_terms (
    worker_id      text        NOT NULL,
    event_id       uuid        NOT NULL,
    effective_from date        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    fte            numeric,
    case_holder    boolean,
    PRIMARY KEY (worker_id, event_id)
);
