-- PostgreSQL only (its function `tenderpool_condition_failed`): on SQLite a batch checks its
-- condition with a query of its own before its inserts, in the same transaction. This file
-- keeps the two backends' migrations under the same names.
SELECT 1;
