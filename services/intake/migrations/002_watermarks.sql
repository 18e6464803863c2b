-- How far intake has recorded each partner.events partition, by event time: every event on the
-- partition that happened before `through` is in `events` (partners publish in time order per
-- partition). Screening reads it, with intake's committed offsets, to know when a contact's
-- history is complete (services/screening/adapters/horizon.py).
CREATE TABLE IF NOT EXISTS intake_watermarks (
    partition  integer     PRIMARY KEY,
    through    timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
