CREATE INDEX audit_events_unsealed ON audit_events (recorded_at, id) WHERE seq IS NULL;
DROP INDEX audit_events_unhashed;
