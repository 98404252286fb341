-- The audit journal: one row per state change, written in the change's transaction, then
-- sealed in order by the background worker (seq and hash set once; see docs/audit.md).
CREATE TABLE audit_events (
    id UUID PRIMARY KEY,
    -- Position in the hash chain, set when the event is sealed (NULL before).
    seq BIGINT UNIQUE,
    recorded_at TIMESTAMPTZ NOT NULL,
    -- Canonical JSON of who acted: {"kind":"token","token_id",...} or {"kind":"system",...}.
    actor TEXT NOT NULL,
    -- The acting token, for the actor filter (NULL for the system).
    actor_token_id UUID,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id UUID NOT NULL,
    group_id UUID,
    -- Canonical JSON of the new values (never a secret).
    data TEXT NOT NULL,
    -- SHA-256 (hex) of the previous event's hash and this event's canonical bytes.
    hash TEXT
);
CREATE INDEX audit_events_unsealed ON audit_events (recorded_at, id) WHERE seq IS NULL;
CREATE INDEX audit_events_entity ON audit_events (entity_id);
CREATE INDEX audit_events_group ON audit_events (group_id);

-- The sealed head of the chain (one row): the last sequence number and hash.
CREATE TABLE audit_chain (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_chain (id, last_seq, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only: the service's own SQL cannot delete an event or change what it says. The only
-- update allowed is sealing: setting seq and hash once, nothing else.
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
        RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.seq IS NOT NULL OR NEW.hash IS NOT NULL THEN
            RAISE EXCEPTION 'audit_events is append-only: events are inserted unsealed';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.seq IS NOT NULL OR OLD.hash IS NOT NULL OR NEW.seq IS NULL OR NEW.hash IS NULL
       OR NEW.id IS DISTINCT FROM OLD.id OR NEW.recorded_at IS DISTINCT FROM OLD.recorded_at
       OR NEW.actor IS DISTINCT FROM OLD.actor OR NEW.actor_token_id IS DISTINCT FROM OLD.actor_token_id
       OR NEW.action IS DISTINCT FROM OLD.action OR NEW.entity_type IS DISTINCT FROM OLD.entity_type
       OR NEW.entity_id IS DISTINCT FROM OLD.entity_id OR NEW.group_id IS DISTINCT FROM OLD.group_id
       OR NEW.data IS DISTINCT FROM OLD.data THEN
        RAISE EXCEPTION 'audit_events is append-only: only sealing (seq and hash, once) may update it';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
-- On insert the function runs only for a row that arrives sealed (to refuse it), so ordinary
-- journaling pays no trigger call.
CREATE TRIGGER audit_events_insert_unsealed
    BEFORE INSERT ON audit_events
    FOR EACH ROW WHEN (NEW.seq IS NOT NULL OR NEW.hash IS NOT NULL)
    EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- The head only moves forward, and is never removed.
CREATE FUNCTION audit_chain_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.id <> OLD.id OR NEW.last_seq <= OLD.last_seq THEN
        RAISE EXCEPTION 'audit_chain only moves forward';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_chain_forward_only
    BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_chain_forward_only();
CREATE TRIGGER audit_chain_no_truncate
    BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_forward_only();
