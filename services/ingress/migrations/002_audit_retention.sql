-- Retention of ingress_audit (services/ingress/retention.py; FRONTDOOR_INGRESS_AUDIT_RETENTION_DAYS,
-- 400 days by default, never less than 366): the audit trail stays append-only, except that the
-- retention task may delete rows older than a year. Nothing ever updates a row. A DELETE is refused
-- unless its transaction is marked as the retention task's (set_config('frontdoor.
-- ingress_audit_purge', 'on', true)) AND the row was received more than 366 days ago, so neither a
-- stray statement nor a misconfigured task can remove the year of evidence an inspector may ask for.
CREATE OR REPLACE FUNCTION ingress_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('frontdoor.ingress_audit_purge', true) = 'on'
       AND OLD.received_at < now() - interval '366 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'ingress_audit is append-only (% refused)', TG_OP;
END $$;
