-- A worker's allocation history (the caseload check reads it for every allocation touched):
-- by worker and time, whether ended or not. The partial index on open allocations cannot answer
-- "made since, or still open then", so the lookup was a sequential scan of every allocation —
-- a cost that grew with the table (a million-event rebuild felt it).
CREATE INDEX IF NOT EXISTS workforce_allocations_by_worker
    ON workforce_allocations (worker_id, allocated_at);
