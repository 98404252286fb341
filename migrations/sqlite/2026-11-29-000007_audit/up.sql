-- The audit journal: one row per state change, written in the change's transaction, then
-- sealed in order by the background worker (seq and hash set once; see docs/audit.md).
-- SQLite form: UUIDs and instants are TEXT.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    seq INTEGER UNIQUE,
    recorded_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_token_id TEXT,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    group_id TEXT,
    data TEXT NOT NULL,
    hash TEXT
);
CREATE INDEX audit_events_unsealed ON audit_events (recorded_at, id) WHERE seq IS NULL;
CREATE INDEX audit_events_entity ON audit_events (entity_id);
CREATE INDEX audit_events_group ON audit_events (group_id);

CREATE TABLE audit_chain (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_chain (id, last_seq, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only, as on PostgreSQL: no DELETE; UPDATE only to seal (seq and hash, once); rows
-- inserted unsealed. (Connections run with recursive_triggers on, so INSERT OR REPLACE
-- cannot delete a row behind the DELETE trigger's back.)
CREATE TRIGGER audit_events_insert_unsealed BEFORE INSERT ON audit_events
WHEN NEW.seq IS NOT NULL OR NEW.hash IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: events are inserted unsealed');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
END;
CREATE TRIGGER audit_events_seal_only BEFORE UPDATE ON audit_events
WHEN OLD.seq IS NOT NULL OR OLD.hash IS NOT NULL OR NEW.seq IS NULL OR NEW.hash IS NULL
  OR NEW.id IS NOT OLD.id OR NEW.recorded_at IS NOT OLD.recorded_at OR NEW.actor IS NOT OLD.actor
  OR NEW.actor_token_id IS NOT OLD.actor_token_id OR NEW.action IS NOT OLD.action
  OR NEW.entity_type IS NOT OLD.entity_type OR NEW.entity_id IS NOT OLD.entity_id
  OR NEW.group_id IS NOT OLD.group_id OR NEW.data IS NOT OLD.data
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: only sealing (seq and hash, once) may update it');
END;

-- The head only moves forward, and is never removed.
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN
    SELECT RAISE(ABORT, 'audit_chain only moves forward');
END;
CREATE TRIGGER audit_chain_forward_only BEFORE UPDATE ON audit_chain
WHEN NEW.id IS NOT OLD.id OR NEW.last_seq <= OLD.last_seq
BEGIN
    SELECT RAISE(ABORT, 'audit_chain only moves forward');
END;
