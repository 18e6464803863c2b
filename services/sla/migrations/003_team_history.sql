-- Every team-naming event of a child (referral.accepted, assessment.started,
-- screening.decision_recorded, the screening route of screening.triaged): its event time
-- (`as_of`, the envelope's occurred_at), its id and the team it names. A timer's team is the
-- child's team as of the timer's start: the mark latest by (as_of, event_id) at or before
-- sla_timers.started_at, else NULL. The lifecycle handler recomputes the team of a child's timers
-- whenever a mark arrives, in whatever order the four lifecycle topics were read, and
-- sla_children.team / team_as_of / team_event_id is the latest mark by (as_of, event_id).
CREATE TABLE IF NOT EXISTS sla_child_teams (
    child_id text        NOT NULL,
    as_of    timestamptz NOT NULL,
    event_id uuid        NOT NULL,
    team     text        NOT NULL,
    PRIMARY KEY (child_id, event_id)
);

-- What an earlier version knew: the child's latest team only. Timers recorded before keep the
-- team they were given until the next team event of their child recomputes them.
INSERT INTO sla_child_teams (child_id, as_of, event_id, team)
SELECT child_id, team_as_of, team_event_id, team FROM sla_children
WHERE team IS NOT NULL AND team_as_of IS NOT NULL AND team_event_id IS NOT NULL
ON CONFLICT (child_id, event_id) DO NOTHING;

COMMENT ON COLUMN sla_timers.team IS
    'The child''s team as of started_at (event time): the latest sla_child_teams mark at or before it.';
