-- Staff credentials for the ops service (dashboard, JSON APIs, docs): the same machinery as the
-- partners' agency_credentials (services/common/credentials.py: key format, argon2id hash,
-- rotation with a grace period, revocation as a time), in a table of its own so a partner's key
-- never opens ops and a staff key never submits events. Written only by `frontdoor ops-keys`
-- (and `frontdoor dev`, which issues a local ops key); read by the ops service.
CREATE TABLE IF NOT EXISTS ops_credentials (
    credential_id text        PRIMARY KEY CHECK (credential_id ~ '^[0-9a-f]{16}$'),
    role          text        NOT NULL CHECK (role IN ('ops', 'manager', 'out-of-hours', 'analyst')),
    label         text        NOT NULL DEFAULT '',
    secret_hash   text        NOT NULL CHECK (secret_hash LIKE '$argon2%'),
    created_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    replaced_by   text        REFERENCES ops_credentials (credential_id),
    last_used_at  timestamptz
);
CREATE INDEX IF NOT EXISTS ops_credentials_role ON ops_credentials (role);

-- Failed sign-ins per client address ('addr') and per claimed credential id ('credential') in a
-- fixed window, checked BEFORE argon2 (services/common/auth_failures.py; ingress keeps its own).
CREATE TABLE IF NOT EXISTS ops_auth_failures (
    scope        text        NOT NULL CHECK (scope IN ('addr', 'credential')),
    subject      text        NOT NULL,
    window_start timestamptz NOT NULL,
    failures     integer     NOT NULL,
    PRIMARY KEY (scope, subject)
);
