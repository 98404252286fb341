DROP TRIGGER audit_chain_forward_only;
DROP TRIGGER audit_chain_no_delete;
DROP TRIGGER audit_events_insert_unsealed;
DROP TRIGGER audit_events_seal_only;
DROP TRIGGER audit_events_no_delete;
DROP TABLE audit_chain;
DROP TABLE audit_events;
