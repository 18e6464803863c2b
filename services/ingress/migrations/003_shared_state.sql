-- State every ingress replica must share, so a rule holds however many replicas run (issue 11 §2).
-- Written only by the ingress service.

-- One row per event ingress has accepted: the SHA-256 of its canonical JSON (the same content hash
-- intake keeps in events.content_hash), so a reused event_id with other content is refused at
-- submission (409 event_id_reused) and a true repeat is an idempotent 202. The agency is the one
-- whose key submitted it: GET /v1/events/{id} answers only that agency. No payload is kept.
CREATE TABLE IF NOT EXISTS ingress_events (
    event_id     uuid        PRIMARY KEY,
    content_hash bytea       NOT NULL,
    agency       text        NOT NULL,
    event_type   text        NOT NULL,
    request_id   uuid        NOT NULL,
    accepted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ingress_events_age ON ingress_events (accepted_at);

-- Failed authentications in a fixed window, per client address ('addr') and per claimed credential
-- id ('credential'): checked BEFORE argon2, so a flood of wrong secrets costs one indexed read each.
CREATE TABLE IF NOT EXISTS ingress_auth_failures (
    scope        text        NOT NULL CHECK (scope IN ('addr', 'credential')),
    subject      text        NOT NULL,
    window_start timestamptz NOT NULL,
    failures     integer     NOT NULL,
    PRIMARY KEY (scope, subject)
);

-- The per-agency token bucket (events per second, bursts), updated atomically by one statement.
CREATE TABLE IF NOT EXISTS ingress_rate_buckets (
    agency     text             PRIMARY KEY,
    tokens     double precision NOT NULL,
    updated_at timestamptz      NOT NULL
);
