-- The out-of-hours service's own tables: the night's record. Written only by the outofhours
-- service (the watch view and the CLI read them).
--
-- ooh_crisis_items: every crisis.raised on frontdoor.crisis (screening's and this service's),
-- keyed by its event id, with the shift ("night") it belongs to. ooh_actions: every
-- ooh.action_recorded from frontdoor.casework; causation_id links an action to the crisis item it
-- answers (the crisis event, or the event that triggered it), which is what acknowledges the item.
-- ooh_handovers / ooh_handover_acks: the handover parts published and the day team's
-- acknowledgements. seq orders arrivals. Every insert notifies channel ooh_record (delivered at
-- commit) so a watch view updates within a second.
CREATE TABLE IF NOT EXISTS ooh_crisis_items (
    event_id           uuid        PRIMARY KEY,
    seq                bigserial   NOT NULL UNIQUE,
    crisis_id          uuid        NOT NULL,
    child_id           text        NOT NULL,
    reason             text        NOT NULL,
    urgency            text        NOT NULL,
    urgency_rank       smallint    NOT NULL,
    explanation        text        NOT NULL,
    trigger_event_id   uuid        NOT NULL,
    trigger_event_type text        NOT NULL,
    happened_at        timestamptz NOT NULL,
    raised_at          timestamptz NOT NULL,
    source_system      text        NOT NULL,
    shift_start        timestamptz NOT NULL,
    shift_end          timestamptz NOT NULL,
    recorded_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ooh_crisis_items_shift
    ON ooh_crisis_items (shift_start, urgency_rank, happened_at DESC);
CREATE INDEX IF NOT EXISTS ooh_crisis_items_trigger ON ooh_crisis_items (trigger_event_id);

CREATE TABLE IF NOT EXISTS ooh_actions (
    event_id        uuid        PRIMARY KEY,
    seq             bigserial   NOT NULL UNIQUE,
    action_id       uuid        NOT NULL,
    child_id        text        NOT NULL,
    action_at       timestamptz NOT NULL,
    kind            text        NOT NULL,
    urgency         text        NOT NULL,
    urgency_rank    smallint    NOT NULL,
    summary         text        NOT NULL,
    decision_reason text        NOT NULL,
    worker          text        NOT NULL,
    causation_id    uuid,
    shift_start     timestamptz NOT NULL,
    shift_end       timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ooh_actions_shift ON ooh_actions (shift_start, action_at);
CREATE INDEX IF NOT EXISTS ooh_actions_cause ON ooh_actions (causation_id)
    WHERE causation_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS ooh_handovers (
    event_id     uuid        PRIMARY KEY,
    handover_id  uuid        NOT NULL,
    child_id     text        NOT NULL,
    shift_start  timestamptz NOT NULL,
    shift_end    timestamptz NOT NULL,
    due_by       timestamptz NOT NULL,
    rank         integer     NOT NULL,
    urgency      text        NOT NULL,
    team         text        NOT NULL,
    published_at timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ooh_handovers_night ON ooh_handovers (handover_id, child_id);

CREATE TABLE IF NOT EXISTS ooh_handover_acks (
    event_id        uuid        PRIMARY KEY,
    handover_id     uuid        NOT NULL,
    child_id        text        NOT NULL,
    acknowledged_at timestamptz NOT NULL,
    team            text        NOT NULL,
    worker          text        NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ooh_handover_acks_night ON ooh_handover_acks (handover_id, child_id);

-- The watch list: each crisis item with its first answering action (its acknowledgement).
CREATE OR REPLACE VIEW ooh_watch_items AS
SELECT i.event_id, i.seq, i.crisis_id, i.child_id, i.reason, i.urgency, i.urgency_rank,
       i.explanation, i.trigger_event_id, i.trigger_event_type, i.happened_at, i.raised_at,
       i.source_system, i.shift_start, i.shift_end,
       ack.action_at AS acknowledged_at, ack.worker AS acknowledged_by
FROM ooh_crisis_items i
LEFT JOIN LATERAL (
    SELECT a.action_at, a.worker FROM ooh_actions a
     WHERE a.causation_id = i.event_id OR a.causation_id = i.trigger_event_id
     ORDER BY a.action_at, a.event_id LIMIT 1
) ack ON true;
