"""The out-of-hours service's adapters: PostgreSQL (the night's record, written and read), the
outbox its announcements go through, the automatic handover's clock, and the watch view."""
