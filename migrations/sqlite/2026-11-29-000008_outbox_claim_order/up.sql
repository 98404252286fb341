-- Claims take the oldest due messages in (next_attempt_at, id) order: with id in the index
-- that order is read straight from it, with the LIMIT, whatever the backlog.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at, id);
