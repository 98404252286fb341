DROP INDEX idempotency_records_created;
DELETE FROM idempotency_records WHERE state = 'redacted';
ALTER TABLE idempotency_records DROP CONSTRAINT idempotency_records_state_check;
ALTER TABLE idempotency_records ADD CONSTRAINT idempotency_records_state_check
    CHECK (state IN ('in_progress', 'done'));
ALTER TABLE api_tokens DROP COLUMN last_used_at;
ALTER TABLE api_tokens DROP COLUMN revoked_at;
ALTER TABLE api_tokens DROP COLUMN expires_at;
