DROP TRIGGER audit_events_seal_only;
DROP TRIGGER audit_events_no_delete;
DROP TABLE audit_chain;
DROP TABLE audit_events;
