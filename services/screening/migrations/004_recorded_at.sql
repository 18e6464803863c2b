-- Processing time beside the event-time result, for latency figures only (DESIGN.md "Event
-- time"): every other column of screening_results is a function of the contact and its history
-- (triaged_at is the contact's own time), so a replay or a rebuild gives the same row; only
-- recorded_at, when this worker wrote it, may differ. Nothing derived reads it.
ALTER TABLE screening_results ADD COLUMN IF NOT EXISTS recorded_at timestamptz NOT NULL
    DEFAULT now();
