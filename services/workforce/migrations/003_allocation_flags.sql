-- The allocation flags (caseload cap crossed, child protection to an NQSW not co-working) for the
-- team manager, as the ops dashboard reads them: one row per alert raised (workforce.alert_raised
-- on frontdoor.workforce carries the same facts), with the team's current manager.
CREATE OR REPLACE VIEW workforce_allocation_flags AS
SELECT a.event_id AS alert_id, a.rule, a.team_id, t.manager_id, a.worker_id, a.child_id,
       a.raised_at
FROM workforce_alerts a
LEFT JOIN workforce_teams t USING (team_id);
