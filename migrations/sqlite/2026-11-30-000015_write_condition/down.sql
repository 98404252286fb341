-- Nothing to undo: the function this migration creates exists on PostgreSQL only.
SELECT 1;
