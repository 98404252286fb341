-- Tokens may expire and be revoked; last use is recorded (at most once a minute).
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT;
-- Idempotency records are now scoped by the caller's token id and purged after 24 h; a
-- response that carried a secret is kept without its body (state 'redacted'). SQLite cannot
-- change a CHECK constraint: the table is rebuilt (its rows are short-lived caches).
DROP TABLE idempotency_records;
CREATE TABLE idempotency_records (
    id TEXT PRIMARY KEY,
    -- The caller's token id: keys are per caller.
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    -- SHA-256 of method, path, query and body: the same key with another request is refused.
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_progress', 'done', 'redacted')),
    response_status INTEGER,
    response_content_type TEXT,
    response_body TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (scope, idem_key)
);
CREATE INDEX idempotency_records_created ON idempotency_records (created_at);
