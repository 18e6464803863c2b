-- Events naming a team or worker the directory has not caught up with (issue 13). The directory
-- (teams, workers, supervision, ASYE and audit events, all keyed 'workforce') travels on one
-- partition and casework or allocations on others, so in a replay or a burst an allocation can
-- arrive before the worker.joined that precedes it. Such an event is parked here (its original
-- record, to be fed through the pipeline again) instead of being refused, until the directory
-- has been applied past the event's own time or the park times out; only then is an id still
-- unknown a `known_team` / `known_worker` dead letter.
CREATE TABLE IF NOT EXISTS workforce_parked (
    consumer    text        NOT NULL,
    event_id    uuid        NOT NULL,
    occurred_at timestamptz NOT NULL,
    field       text        NOT NULL,
    kind        text        NOT NULL,
    ref         text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    key         bytea,
    value       bytea,
    headers     jsonb       NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX IF NOT EXISTS workforce_parked_order ON workforce_parked (consumer, occurred_at);

-- The event time up to which the directory has been applied (its events are published in time
-- order on their one key).
CREATE TABLE IF NOT EXISTS workforce_directory_through (
    only_row boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    through  timestamptz NOT NULL
);
