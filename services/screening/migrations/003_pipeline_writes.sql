-- Screening's batch writes on the shared pipeline (services/common/pipeline.py): the pipeline
-- claims each batch's event ids in processed_events inside the same transaction, so these
-- functions no longer write the ledger themselves. They replace migration 002's versions (which
-- took the consumer and the ledger ids); screening_lock_contacts is unchanged.
--
-- Both functions first take a transaction-scoped advisory lock per contact (class 21315, "SC"),
-- held until the batch commits, so a triage result and a decision for the same contact are never
-- written at the same time; in READ COMMITTED each statement takes a fresh snapshot, so the
-- statements after the lock see what the other writer committed while we waited. That is what
-- makes a decision that arrives while its contact is being triaged land on the result row either
-- way round.

DROP FUNCTION IF EXISTS screening_record_results(
    text, uuid[], text[], text[], text[], uuid[], timestamptz[], timestamptz[], text[], text[],
    text[], timestamptz[], text[], text[], text[], bool[], bool[], bool[], uuid[], timestamptz[]);
DROP FUNCTION IF EXISTS screening_record_decisions(
    text, uuid[], uuid[], uuid[], text[], timestamptz[], text[], text[], text[]);

-- Triage results, with any decision already recorded for the contact.
CREATE OR REPLACE FUNCTION screening_record_results(
    p_event_id uuid[], p_event_type text[], p_child_id text[], p_family_id text[],
    p_contact_id uuid[], p_incident_at timestamptz[], p_received_at timestamptz[],
    p_priority text[], p_dash_level text[], p_reasons text[], p_screening_due_at timestamptz[],
    p_route_kind text[], p_route_team text[], p_rules_version text[], p_marac bool[],
    p_operation_encompass bool[], p_crisis bool[], p_triaged_event_id uuid[],
    p_triaged_at timestamptz[]
) RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    inserted integer;
BEGIN
    PERFORM screening_lock_contacts(p_contact_id);
    INSERT INTO screening_results (event_id, event_type, child_id, family_id, contact_id,
        incident_at, received_at, priority, dash_level, reasons, screening_due_at, route_kind,
        route_team, rules_version, marac_indicated, operation_encompass, crisis,
        triaged_event_id, triaged_at, decided_at, decision)
    SELECT r.event_id, r.event_type, r.child_id, r.family_id, r.contact_id, r.incident_at,
           r.received_at, r.priority, r.dash_level, r.reasons::jsonb, r.screening_due_at,
           r.route_kind, r.route_team, r.rules_version, r.marac, r.operation_encompass,
           r.crisis, r.triaged_event_id, r.triaged_at, d.decided_at, d.decision
    FROM unnest(p_event_id, p_event_type, p_child_id, p_family_id, p_contact_id, p_incident_at,
                p_received_at, p_priority, p_dash_level, p_reasons, p_screening_due_at,
                p_route_kind, p_route_team, p_rules_version, p_marac, p_operation_encompass,
                p_crisis, p_triaged_event_id, p_triaged_at)
         AS r(event_id, event_type, child_id, family_id, contact_id, incident_at, received_at,
              priority, dash_level, reasons, screening_due_at, route_kind, route_team,
              rules_version, marac, operation_encompass, crisis, triaged_event_id, triaged_at)
    LEFT JOIN screening_decisions d ON d.contact_id = r.contact_id
    ON CONFLICT (event_id) DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    RETURN inserted;
END $$;

-- Decisions (one per contact, the latest by decided_at wins), copied onto any triage result for
-- the contact.
CREATE OR REPLACE FUNCTION screening_record_decisions(
    p_contact_id uuid[], p_event_id uuid[], p_child_id text[], p_decided_at timestamptz[],
    p_decision text[], p_team text[], p_worker text[]
) RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    closed integer;
BEGIN
    PERFORM screening_lock_contacts(p_contact_id);
    INSERT INTO screening_decisions (contact_id, event_id, child_id, decided_at, decision, team,
                                     worker)
    SELECT * FROM unnest(p_contact_id, p_event_id, p_child_id, p_decided_at, p_decision, p_team,
                         p_worker)
    ON CONFLICT (contact_id) DO UPDATE
       SET event_id = EXCLUDED.event_id, child_id = EXCLUDED.child_id,
           decided_at = EXCLUDED.decided_at, decision = EXCLUDED.decision,
           team = EXCLUDED.team, worker = EXCLUDED.worker, recorded_at = now()
     WHERE EXCLUDED.decided_at >= screening_decisions.decided_at;
    UPDATE screening_results r SET decided_at = d.decided_at, decision = d.decision
    FROM screening_decisions d
    WHERE d.contact_id = r.contact_id AND d.contact_id = ANY(p_contact_id)
      AND r.decided_at IS DISTINCT FROM d.decided_at;
    GET DIAGNOSTICS closed = ROW_COUNT;
    RETURN closed;
END $$;
