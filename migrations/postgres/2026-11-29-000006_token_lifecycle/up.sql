-- Tokens may expire and be revoked; last use is recorded (at most once a minute).
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE api_tokens ADD COLUMN revoked_at TIMESTAMPTZ;
ALTER TABLE api_tokens ADD COLUMN last_used_at TIMESTAMPTZ;
-- Idempotency records are now scoped by the caller's token id and purged after 24 h; a
-- response that carried a secret is kept without its body (state 'redacted'). The records
-- kept so far are dropped: they were scoped by the header's hash, and a token creation's
-- record held the new token in clear.
DELETE FROM idempotency_records;
ALTER TABLE idempotency_records DROP CONSTRAINT idempotency_records_state_check;
ALTER TABLE idempotency_records ADD CONSTRAINT idempotency_records_state_check
    CHECK (state IN ('in_progress', 'done', 'redacted'));
CREATE INDEX idempotency_records_created ON idempotency_records (created_at);
