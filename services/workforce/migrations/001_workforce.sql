-- The workforce directory and what hangs on it, written only by the workforce service. Every
-- row is a fact from an event (its event time kept); clocks are recomputed from the facts.
CREATE TABLE IF NOT EXISTS workforce_teams (
    team_id           text PRIMARY KEY,
    name              text        NOT NULL,
    manager_id        text,
    parent_team_id    text,
    weighting_profile text,
    recorded_at       timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS workforce_workers (
    worker_id         text PRIMARY KEY,
    team_id           text        NOT NULL,
    role              text        NOT NULL,
    fte               numeric     NOT NULL,
    employed_from     date        NOT NULL,
    agency_worker     boolean     NOT NULL,
    newly_qualified   boolean     NOT NULL,
    case_holder       boolean     NOT NULL,
    swe_number        text,
    start_origin      text,
    left_on           date,
    leave_reason      text,
    asye_starts_on    date,
    asye_programme    text,
    asye_completed_on date,
    changed_at        timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS workforce_leave (
    worker_id   text NOT NULL,
    starts_on   date NOT NULL,
    returned_on date,
    reason      text NOT NULL,
    PRIMARY KEY (worker_id, starts_on)
);

CREATE TABLE IF NOT EXISTS workforce_asye_pauses (
    worker_id   text NOT NULL,
    paused_from date NOT NULL,
    resumes_on  date NOT NULL,
    PRIMARY KEY (worker_id, paused_from)
);

CREATE TABLE IF NOT EXISTS workforce_asye_reviews (
    worker_id    text    NOT NULL,
    review_month integer NOT NULL,
    held_on      date    NOT NULL,
    PRIMARY KEY (worker_id, review_month)
);

-- Every session, counted or not; flag says why not (short | interrupted | kind_not_counted).
CREATE TABLE IF NOT EXISTS workforce_sessions (
    event_id      uuid PRIMARY KEY,
    worker_id     text        NOT NULL,
    supervisor_id text        NOT NULL,
    kind          text        NOT NULL,
    started_at    timestamptz NOT NULL,
    minutes       integer     NOT NULL,
    interrupted   boolean     NOT NULL,
    flag          text
);
CREATE INDEX IF NOT EXISTS workforce_sessions_worker ON workforce_sessions (worker_id, started_at);

-- Entries on a child's record: case supervision (one per child discussed) and oversight notes.
CREATE TABLE IF NOT EXISTS workforce_case_entries (
    event_id    uuid        NOT NULL,
    child_id    text        NOT NULL,
    kind        text        NOT NULL,
    by_id       text        NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (event_id, child_id)
);
CREATE INDEX IF NOT EXISTS workforce_case_entries_child ON workforce_case_entries (child_id, recorded_at);

-- Allocation history: the open allocation of a child has ended_at NULL.
CREATE TABLE IF NOT EXISTS workforce_allocations (
    event_id     uuid PRIMARY KEY,
    child_id     text        NOT NULL,
    worker_id    text        NOT NULL,
    team_id      text        NOT NULL,
    case_type    text        NOT NULL,
    co_worker_id text,
    allocated_at timestamptz NOT NULL,
    ended_at     timestamptz,
    end_reason   text
);
CREATE INDEX IF NOT EXISTS workforce_allocations_child ON workforce_allocations (child_id, allocated_at);
CREATE INDEX IF NOT EXISTS workforce_allocations_worker ON workforce_allocations (worker_id) WHERE ended_at IS NULL;

-- Referred children waiting for a worker (referral → allocation time).
CREATE TABLE IF NOT EXISTS workforce_referrals (
    child_id     text PRIMARY KEY,
    referral_at  timestamptz NOT NULL,
    team         text        NOT NULL,
    allocated_at timestamptz
);

CREATE TABLE IF NOT EXISTS workforce_audits (
    audit_id        uuid PRIMARY KEY,
    child_id        text        NOT NULL,
    auditor_id      text        NOT NULL,
    tool            text,
    theme           text,
    due_on          date,
    completed_at    timestamptz,
    grade           text,
    actions         integer     NOT NULL DEFAULT 0,
    moderator_id    text,
    moderated_grade text
);
CREATE INDEX IF NOT EXISTS workforce_audits_child ON workforce_audits (child_id, completed_at);

-- The workforce's clocks in the SLA timer shape (read with sla_timers by the SLA board and
-- `frontdoor sla`): one row per (kind, subject_ref), recomputed from the facts above.
CREATE TABLE IF NOT EXISTS workforce_clocks (
    timer_id    uuid PRIMARY KEY,
    child_id    text        NOT NULL,
    kind        text        NOT NULL,
    policy      text        NOT NULL,
    subject_ref text        NOT NULL,
    started_at  timestamptz NOT NULL,
    due_at      timestamptz NOT NULL,
    status      text        NOT NULL DEFAULT 'open',
    team        text
);
CREATE INDEX IF NOT EXISTS workforce_clocks_due ON workforce_clocks (due_at) WHERE status = 'open';

-- Caseload-cap crossings already alerted: (worker, allocation) so a redelivery raises nothing.
CREATE TABLE IF NOT EXISTS workforce_alerts (
    event_id   uuid PRIMARY KEY,
    rule       text        NOT NULL,
    worker_id  text        NOT NULL,
    child_id   text        NOT NULL,
    team_id    text        NOT NULL,
    raised_at  timestamptz NOT NULL
);
