-- Nothing to undo: the constraint exists on PostgreSQL only.
SELECT 1;
