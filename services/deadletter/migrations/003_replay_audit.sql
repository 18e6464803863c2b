-- Every replay is audited (issue 14): who asked (`cli:<user>` for `frontdoor dlq replay`,
-- `ops:<credential id>` for the ops console), when, the letters it took and the filters it was
-- given. Written in the same transaction that marks the letters replayed, so a replay that took
-- letters always has its row; append-only (nothing updates or deletes it).
CREATE TABLE IF NOT EXISTS deadletter_replays (
    id          bigserial PRIMARY KEY,
    replayed_at timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    letter_ids  bigint[] NOT NULL,
    choice      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS deadletter_replays_at ON deadletter_replays (replayed_at);
