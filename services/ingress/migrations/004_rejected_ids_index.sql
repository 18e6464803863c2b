-- GET /v1/events/{id}: "was my event refused?" looks the id up among the audited rejections.
CREATE INDEX IF NOT EXISTS ingress_audit_rejected_ids ON ingress_audit USING gin (rejected_ids);
