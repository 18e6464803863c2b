-- Dead letters are identified by their content, not by offsets (issue 10): `letter_id` is the
-- pipeline's `dlq.id` (a UUID derived from the original record), unique, so the same letter
-- delivered twice is kept once while two letters that share a group/topic/partition/offset (a
-- restarted broker reuses offsets) are both kept. The old offset key goes. Letters kept before
-- this migration have no id (NULL: never a conflict) and keep working for `dlq list|replay`.
ALTER TABLE deadletters ADD COLUMN IF NOT EXISTS letter_id uuid;
CREATE UNIQUE INDEX IF NOT EXISTS deadletters_letter_id ON deadletters (letter_id);

DO $$
DECLARE
    offset_key text;
BEGIN
    FOR offset_key IN
        SELECT c.conname FROM pg_constraint c
        WHERE c.conrelid = 'deadletters'::regclass AND c.contype = 'u'
          AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
               FROM pg_attribute a
               WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey))
              = ARRAY['consumer_group', 'original_offset', 'original_partition', 'original_topic']
    LOOP
        EXECUTE format('ALTER TABLE deadletters DROP CONSTRAINT %I', offset_key);
    END LOOP;
END $$;

-- Every header of the dead-letter record exactly as read (dlq.* included), in order: a header
-- may hold a NUL or bytes that are not UTF-8, which no text or jsonb column can store. Names are
-- their UTF-8 bytes. `record_headers` stays the display form (original headers, escaped text).
ALTER TABLE deadletters ADD COLUMN IF NOT EXISTS header_names bytea[];
ALTER TABLE deadletters ADD COLUMN IF NOT EXISTS header_values bytea[];
ALTER TABLE deadletters DROP CONSTRAINT IF EXISTS deadletters_headers_pair;
ALTER TABLE deadletters ADD CONSTRAINT deadletters_headers_pair
    CHECK (cardinality(header_names) = cardinality(header_values));
