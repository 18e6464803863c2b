-- Agency lanes (issue 11): intake reads partner.events and every partner.events.<agency>, so
-- its event-time watermark is kept per topic and partition.
ALTER TABLE intake_watermarks ADD COLUMN IF NOT EXISTS topic text NOT NULL DEFAULT 'partner.events';
ALTER TABLE intake_watermarks DROP CONSTRAINT IF EXISTS intake_watermarks_pkey;
ALTER TABLE intake_watermarks ADD PRIMARY KEY (topic, partition);

-- Every record intake refused because it left its speaker's lane (schemas/roles.py): where it
-- was read, how the speaker was established, which agency it claimed and the rules it broke. No
-- payload. A non-zero count is a security incident, not a data-quality issue: ops shows it per
-- agency. The dead letter itself (reason validation, AgencyNotPermittedError) keeps the record.
CREATE TABLE IF NOT EXISTS intake_lane_refusals (
    id             bigserial   PRIMARY KEY,
    refused_at     timestamptz NOT NULL DEFAULT now(),
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    "offset"       bigint      NOT NULL,
    via            text        NOT NULL,
    speaker        text,
    claimed_agency text        NOT NULL,
    rules          text[]      NOT NULL
);
CREATE INDEX IF NOT EXISTS intake_lane_refusals_agency ON intake_lane_refusals (claimed_agency);
