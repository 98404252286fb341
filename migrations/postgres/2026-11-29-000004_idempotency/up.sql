-- Idempotency-Key records: the first response to (caller, key) is kept 24 h and replayed.
CREATE TABLE idempotency_records (
    id UUID PRIMARY KEY,
    -- SHA-256 of the caller's Authorization header: keys are per caller.
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    -- SHA-256 of method, path, query and body: the same key with another request is refused.
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    response_status BIGINT,
    response_content_type TEXT,
    response_body TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (scope, idem_key)
);
