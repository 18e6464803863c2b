-- The SLA service's own tables, written only by the sla worker: the timers (one row per
-- statutory clock, the materialised view every SLA board reads), what the service knows about each
-- child (current team; the row each batch locks), closing events that arrived before the clock
-- they close, and the transactional outbox of warnings and breaches.

CREATE TABLE IF NOT EXISTS sla_timers (
    timer_id         uuid        PRIMARY KEY,
    child_id         text        NOT NULL,
    kind             text        NOT NULL,
    policy           text        NOT NULL,
    subject_ref      text        NOT NULL,
    started_at       timestamptz NOT NULL,
    due_at           timestamptz NOT NULL,
    warn_at          timestamptz,
    status           text        NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'met', 'breached', 'cancelled')),
    warned_at        timestamptz,
    met_at           timestamptz,
    breached_at      timestamptz,
    cancelled_at     timestamptz,
    team             text,
    started_event_id uuid,
    closed_event_id  uuid,
    recorded_at      timestamptz NOT NULL DEFAULT now(),  -- on the worker's clock
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (due_at >= started_at),
    CHECK (breached_at IS NULL OR breached_at > due_at),
    CHECK ((status = 'met') = (met_at IS NOT NULL)),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    CHECK (status <> 'breached' OR breached_at IS NOT NULL)
);
-- The due index the breach scanner reads, and the one its warnings read.
CREATE INDEX IF NOT EXISTS sla_timers_due ON sla_timers (due_at) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS sla_timers_warn ON sla_timers (warn_at)
    WHERE status = 'open' AND warned_at IS NULL AND warn_at IS NOT NULL;
-- Clocks recorded when already overdue (replays) breach a grace period after they were recorded.
CREATE INDEX IF NOT EXISTS sla_timers_overdue_when_recorded ON sla_timers (recorded_at)
    WHERE status = 'open' AND recorded_at >= due_at;
CREATE INDEX IF NOT EXISTS sla_timers_child ON sla_timers (child_id);
CREATE INDEX IF NOT EXISTS sla_timers_live ON sla_timers (due_at)
    WHERE status IN ('open', 'breached');
CREATE INDEX IF NOT EXISTS sla_timers_breached ON sla_timers (breached_at)
    WHERE breached_at IS NOT NULL;

-- One row per child the SLA service has seen. A batch locks its children's rows (FOR UPDATE), so
-- two workers (or two agents of one worker, on different topics) never plan the same child's
-- clocks at once. `team` is the child's latest team from referral.accepted, assessment.started,
-- screening.decision_recorded or the screening route (by occurred_at).
CREATE TABLE IF NOT EXISTS sla_children (
    child_id      text        PRIMARY KEY,
    team          text,
    team_as_of    timestamptz,
    team_event_id uuid
);

-- Events that stop or cancel a clock but found none to close: topics are not ordered with each
-- other (a decision on frontdoor.casework can be read before its contact on frontdoor.contacts),
-- so they are kept and applied again when a clock of that child starts later.
CREATE TABLE IF NOT EXISTS sla_early_events (
    child_id    text        NOT NULL,
    event_id    uuid        NOT NULL,
    event_type  text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    body        jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (child_id, event_id)
);

-- Warnings and breaches, written in the same transaction as the timer's transition and relayed to
-- frontdoor.sla after the commit; a row is deleted once the broker acknowledged it. Event ids are
-- derived from (timer_id, transition), so a relay that dies after publishing republishes the same
-- id. Nothing is relayed before `available_at` (a breach: never at or before its deadline), and
-- rows go out in `available_at` order (a clock's warning before its breach).
CREATE TABLE IF NOT EXISTS sla_outbox (
    event_id     uuid        PRIMARY KEY,
    timer_id     uuid        NOT NULL,
    event_type   text        NOT NULL,
    topic        text        NOT NULL,
    record_key   bytea,
    record_value bytea       NOT NULL,
    available_at timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sla_outbox_available ON sla_outbox (available_at);

-- Wake the scanner when a clock or an outbox row appears (it may be due sooner than it sleeps).
CREATE OR REPLACE FUNCTION sla_wakeup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('sla_wakeup', TG_TABLE_NAME);
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS sla_timers_wakeup ON sla_timers;
CREATE TRIGGER sla_timers_wakeup AFTER INSERT ON sla_timers
    FOR EACH STATEMENT EXECUTE FUNCTION sla_wakeup();
DROP TRIGGER IF EXISTS sla_outbox_wakeup ON sla_outbox;
CREATE TRIGGER sla_outbox_wakeup AFTER INSERT ON sla_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION sla_wakeup();

-- The views the dashboard and the CLI read. "Live" = open or breached (still owed); days and
-- months are Europe/London ones.
CREATE OR REPLACE VIEW sla_open_by_kind AS
SELECT kind,
       count(*) FILTER (WHERE status = 'open')     AS open,
       count(*) FILTER (WHERE status = 'breached') AS overdue,
       min(due_at) FILTER (WHERE status = 'open')  AS next_due_at
FROM sla_timers
WHERE status IN ('open', 'breached')
GROUP BY kind;

CREATE OR REPLACE VIEW sla_breaching_today AS
WITH today AS (
    SELECT date_trunc('day', now() AT TIME ZONE 'Europe/London') AT TIME ZONE 'Europe/London'
           AS starts
)
SELECT t.timer_id, t.child_id, t.kind, t.policy, t.subject_ref, t.started_at, t.due_at,
       t.status, t.breached_at, COALESCE(c.team, t.team) AS team
FROM sla_timers t
CROSS JOIN today
LEFT JOIN sla_children c USING (child_id)
WHERE t.status IN ('open', 'breached')
  AND t.due_at >= today.starts
  AND t.due_at < (((today.starts AT TIME ZONE 'Europe/London') + interval '1 day')
                  AT TIME ZONE 'Europe/London');

CREATE OR REPLACE VIEW sla_breached_this_month AS
SELECT t.timer_id, t.child_id, t.kind, t.policy, t.subject_ref, t.started_at, t.due_at,
       t.status, t.breached_at, t.met_at, t.cancelled_at, COALESCE(c.team, t.team) AS team
FROM sla_timers t
LEFT JOIN sla_children c USING (child_id)
WHERE t.breached_at >= date_trunc('month', now() AT TIME ZONE 'Europe/London')
                       AT TIME ZONE 'Europe/London';

CREATE OR REPLACE VIEW sla_by_team AS
WITH month AS (
    SELECT date_trunc('month', now() AT TIME ZONE 'Europe/London') AT TIME ZONE 'Europe/London'
           AS starts
)
SELECT COALESCE(c.team, t.team, 'unallocated') AS team,
       t.kind,
       count(*) FILTER (WHERE t.status = 'open')                      AS open,
       count(*) FILTER (WHERE t.status = 'breached')                  AS overdue,
       count(*) FILTER (WHERE t.breached_at >= month.starts)          AS breached_this_month,
       count(*) FILTER (WHERE t.status = 'met' AND t.met_at >= month.starts
                          AND t.breached_at IS NULL)                  AS met_in_time_this_month
FROM sla_timers t
CROSS JOIN month
LEFT JOIN sla_children c USING (child_id)
WHERE t.status IN ('open', 'breached') OR t.breached_at >= month.starts
   OR t.met_at >= month.starts
GROUP BY 1, 2;
