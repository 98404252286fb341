-- The events waiting to be sealed are found through `hash IS NULL` (sealing sets seq and hash
-- together, once). Filtering on `seq IS NULL` let SQLite's planner pick the UNIQUE index on
-- seq, then read and sort every unsealed event for each chunk of 50 it seals.
CREATE INDEX audit_events_unhashed ON audit_events (recorded_at, id) WHERE hash IS NULL;
DROP INDEX audit_events_unsealed;
