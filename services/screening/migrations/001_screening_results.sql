-- Screening's own tables, written only by the screening service.
--
-- screening_results: one row per triaged contact or police DA notification (keyed by the source
-- event's id), the queue a MASH manager works from. The triage result is what the rules said;
-- decided_at / decision are the human screening decision, stored beside it and never replaced by
-- a triage result. screening_decisions keeps every contact's latest decision even when it arrives
-- before the contact has been triaged (they travel on different topics), so the triage row picks
-- it up when it is written.
CREATE TABLE IF NOT EXISTS screening_results (
    event_id            uuid        PRIMARY KEY,
    event_type          text        NOT NULL,
    child_id            text        NOT NULL,
    family_id           text,
    contact_id          uuid        NOT NULL,
    incident_at         timestamptz NOT NULL,
    received_at         timestamptz NOT NULL,
    priority            text        NOT NULL CHECK (priority IN ('red', 'amber', 'green', 'blue')),
    dash_level          text,
    reasons             jsonb       NOT NULL,
    screening_due_at    timestamptz NOT NULL,
    route_kind          text        NOT NULL,
    route_team          text        NOT NULL,
    rules_version       text        NOT NULL,
    marac_indicated     boolean     NOT NULL,
    operation_encompass boolean     NOT NULL,
    crisis              boolean     NOT NULL,
    triaged_event_id    uuid        NOT NULL,
    triaged_at          timestamptz NOT NULL,
    decided_at          timestamptz,
    decision            text
);
CREATE INDEX IF NOT EXISTS screening_results_contact ON screening_results (contact_id);
CREATE INDEX IF NOT EXISTS screening_results_child ON screening_results (child_id, incident_at);
CREATE INDEX IF NOT EXISTS screening_results_family ON screening_results (family_id, incident_at)
    WHERE family_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS screening_results_open ON screening_results (screening_due_at)
    WHERE decided_at IS NULL;

CREATE TABLE IF NOT EXISTS screening_decisions (
    contact_id  uuid        PRIMARY KEY,
    event_id    uuid        NOT NULL,
    child_id    text        NOT NULL,
    decided_at  timestamptz NOT NULL,
    decision    text        NOT NULL,
    team        text        NOT NULL,
    worker      text,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- What is still waiting for a screening decision: red first, then amber, green, blue; within a
-- priority, the earliest deadline first.
CREATE OR REPLACE VIEW screening_queue AS
SELECT event_id, child_id, family_id, contact_id, event_type, priority,
       CASE priority WHEN 'red' THEN 1 WHEN 'amber' THEN 2 WHEN 'green' THEN 3 ELSE 4 END
           AS priority_rank,
       screening_due_at, route_kind, route_team, reasons, operation_encompass, crisis,
       marac_indicated, received_at, triaged_at, rules_version
FROM screening_results
WHERE decided_at IS NULL
ORDER BY priority_rank, screening_due_at, received_at;
