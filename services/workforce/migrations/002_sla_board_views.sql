-- The workforce clocks as the SLA board reads them (same columns as sla_timers' live rows and
-- sla_by_team): `frontdoor sla` and the ops SLA board read these with a UNION ALL. A clock past
-- its due date shows as 'breached' (still owed); the due date itself is event-time derived.
CREATE OR REPLACE VIEW workforce_live_clocks AS
SELECT timer_id, child_id, kind, policy, subject_ref, started_at, due_at,
       NULL::timestamptz AS warn_at,
       CASE WHEN due_at < now() THEN 'breached' ELSE 'open' END AS status,
       NULL::timestamptz AS warned_at,
       CASE WHEN due_at < now() THEN due_at END AS breached_at,
       team
FROM workforce_clocks
WHERE status = 'open';

CREATE OR REPLACE VIEW workforce_sla_by_team AS
SELECT COALESCE(team, 'unallocated') AS team, kind,
       count(*) FILTER (WHERE status = 'open')     AS open,
       count(*) FILTER (WHERE status = 'breached') AS overdue,
       0::bigint AS breached_this_month,
       0::bigint AS met_in_time_this_month
FROM workforce_live_clocks
GROUP BY 1, 2;
