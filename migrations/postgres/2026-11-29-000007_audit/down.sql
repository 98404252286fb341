DROP TRIGGER audit_chain_no_truncate ON audit_chain;
DROP TRIGGER audit_chain_forward_only ON audit_chain;
DROP FUNCTION audit_chain_forward_only();
DROP TRIGGER audit_events_no_truncate ON audit_events;
DROP TRIGGER audit_events_insert_unsealed ON audit_events;
DROP TRIGGER audit_events_append_only ON audit_events;
DROP FUNCTION audit_events_append_only();
DROP TABLE audit_chain;
DROP TABLE audit_events;
