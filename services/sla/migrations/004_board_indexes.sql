-- What `frontdoor sla` filters and orders by (services/sla/adapters/board.py), so drawing the
-- board on 100,000+ clocks reads an index range rather than the table:
-- * one kind's live clocks, soonest first (`--kind icpc`), counted from the index alone;
-- * every clock soonest first whatever its status (`--all`, `--period`, met and cancelled too).
-- Plain CREATE INDEX (the migration runner wraps each file in a transaction, where CONCURRENTLY
-- is not allowed); on the board's table sizes it takes well under a second.
CREATE INDEX IF NOT EXISTS sla_timers_live_kind ON sla_timers (kind, due_at, timer_id)
    INCLUDE (status) WHERE status IN ('open', 'breached');
CREATE INDEX IF NOT EXISTS sla_timers_due_all ON sla_timers (due_at, timer_id);
