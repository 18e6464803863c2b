-- The conferences service's own tables, written only by the conferences worker: what it knows of
-- each child's referrals and section 47 enquiries (to check the record's rules), the conferences
-- it scheduled (ICPCs and reviews), the invitations it issued, the agencies' reports and the CP
-- plans; and the views the CLI and dashboards read. Reads intake's `events` (history); the
-- pipeline claims its events in `processed_events` as consumer 'conferences'.

-- One row per child the service has seen; a batch locks its children's rows (FOR UPDATE).
CREATE TABLE IF NOT EXISTS conference_children (
    child_id   text        PRIMARY KEY,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS conference_referrals (
    referral_id uuid        PRIMARY KEY,
    child_id    text        NOT NULL,
    referral_at timestamptz,
    closed_at   timestamptz,
    nfa         boolean     NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS conference_referrals_child ON conference_referrals (child_id);

CREATE TABLE IF NOT EXISTS conference_enquiries (
    s47_id      uuid        PRIMARY KEY,
    child_id    text        NOT NULL,
    referral_id uuid        NOT NULL,
    strategy_id uuid,
    started_at  timestamptz,
    status      text        NOT NULL CHECK (status IN ('open', 'completed', 'conferenced', 'closed')),
    ended_at    timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS conference_enquiries_child ON conference_enquiries (child_id);

CREATE TABLE IF NOT EXISTS conferences (
    conference_id          uuid        PRIMARY KEY,
    child_id               text        NOT NULL,
    kind                   text        NOT NULL CHECK (kind IN ('icpc', 'rcpc')),
    policy                 text        NOT NULL,
    referral_id            uuid,
    strategy_id            uuid,
    s47_id                 uuid,
    plan_id                uuid,
    sequence               integer     NOT NULL DEFAULT 0,
    clock_started_at       timestamptz NOT NULL,
    target_date            date        NOT NULL,
    issued_at              timestamptz NOT NULL,
    reports_due_by         timestamptz NOT NULL,
    invited_agencies       text[]      NOT NULL,
    status                 text        NOT NULL CHECK (status IN ('pending', 'held', 'cancelled')),
    conference_at          timestamptz,
    recorded_conference_id uuid,
    attending_agencies     text[]      NOT NULL DEFAULT '{}',
    quorate                boolean,
    quorate_on_invitations boolean     NOT NULL,
    quorate_on_reports     boolean     NOT NULL,
    outcome                text,
    closed_at              timestamptz,
    closed_reason          text,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'held') = (conference_at IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS conferences_child ON conferences (child_id);
CREATE INDEX IF NOT EXISTS conferences_pending ON conferences (target_date) WHERE status = 'pending';

-- What frontdoor sent to each agency's inbox: an agency sees exactly these conferences.
CREATE TABLE IF NOT EXISTS conference_invitations (
    invitation_id  uuid        PRIMARY KEY,
    event_id       uuid        NOT NULL UNIQUE,
    conference_id  uuid        NOT NULL REFERENCES conferences (conference_id),
    child_id       text        NOT NULL,
    agency         text        NOT NULL,
    kind           text        NOT NULL,
    target_date    date,
    issued_at      timestamptz NOT NULL,
    reports_due_by timestamptz NOT NULL,
    UNIQUE (conference_id, agency)
);
CREATE INDEX IF NOT EXISTS conference_invitations_agency ON conference_invitations (agency);

-- Each agency's latest report per conference; on_time = shared with the parents by the deadline.
CREATE TABLE IF NOT EXISTS conference_reports (
    conference_id      uuid        NOT NULL REFERENCES conferences (conference_id),
    agency             text        NOT NULL,
    child_id           text        NOT NULL,
    report_id          uuid        NOT NULL,
    submitted_at       timestamptz NOT NULL,
    shared_with_family boolean     NOT NULL,
    on_time            boolean     NOT NULL,
    PRIMARY KEY (conference_id, agency)
);

CREATE TABLE IF NOT EXISTS cp_plans (
    plan_id               uuid        PRIMARY KEY,
    child_id              text        NOT NULL,
    referral_id           uuid,
    icpc_conference_id    uuid        NOT NULL,
    started_at            timestamptz NOT NULL,
    initial_category      text        NOT NULL,
    latest_category       text        NOT NULL,
    status                text        NOT NULL CHECK (status IN ('open', 'ended')),
    ended_at              timestamptz,
    end_reason            text,
    core_groups           integer     NOT NULL DEFAULT 0,
    last_core_group_at    timestamptz,
    visits                integer     NOT NULL DEFAULT 0,
    last_visit_at         timestamptz,
    last_seen_alone_at    timestamptz,
    reviews               integer     NOT NULL DEFAULT 0,
    last_review_at        timestamptz,
    review_decided_to_end boolean     NOT NULL DEFAULT false,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'ended') = (ended_at IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS cp_plans_child ON cp_plans (child_id);
-- DOMAIN.md §6: never two open CP plans for one child (the handler checks first; this is the net).
CREATE UNIQUE INDEX IF NOT EXISTS cp_plans_one_open ON cp_plans (child_id) WHERE status = 'open';

-- Conferences not yet held, soonest first, with what is missing before them: which invited
-- agencies have not reported, which reports were late or not shared with the parents, whether the
-- reports deadline has passed with reports missing, and whether the invitations and the reports
-- received so far can make a quorum (the local rule, evaluated by the worker).
CREATE OR REPLACE VIEW conferences_upcoming AS
SELECT c.conference_id,
       c.child_id,
       c.kind,
       c.sequence,
       c.policy,
       c.plan_id,
       c.target_date,
       c.conference_at,
       c.reports_due_by,
       c.invited_agencies,
       COALESCE(r.received, '{}')                               AS reports_received,
       ARRAY(SELECT a FROM unnest(c.invited_agencies) AS a
             WHERE a <> ALL (COALESCE(r.received, '{}')))       AS reports_missing,
       COALESCE(r.late, '{}')                                   AS reports_late,
       COALESCE(r.not_shared, '{}')                             AS reports_not_shared,
       (now() > c.reports_due_by
        AND EXISTS (SELECT 1 FROM unnest(c.invited_agencies) AS a
                    WHERE a <> ALL (COALESCE(r.received, '{}')))) AS reports_overdue,
       c.quorate_on_invitations,
       c.quorate_on_reports
FROM conferences c
LEFT JOIN LATERAL (
    SELECT array_agg(x.agency ORDER BY x.agency)                                AS received,
           array_agg(x.agency ORDER BY x.agency)
               FILTER (WHERE x.shared_with_family AND NOT x.on_time)            AS late,
           array_agg(x.agency ORDER BY x.agency) FILTER (WHERE NOT x.shared_with_family)
                                                                                AS not_shared
    FROM conference_reports x
    WHERE x.conference_id = c.conference_id
) r ON true
WHERE c.status = 'pending';

-- Each agency's inbox as a table: the conferences it was invited to, and only those.
CREATE OR REPLACE VIEW conference_agency_inbox AS
SELECT i.agency, i.child_id, i.conference_id, i.kind, i.target_date, i.reports_due_by,
       c.status, c.conference_at, (x.agency IS NOT NULL) AS report_received
FROM conference_invitations i
JOIN conferences c USING (conference_id)
LEFT JOIN conference_reports x ON x.conference_id = i.conference_id AND x.agency = i.agency;
