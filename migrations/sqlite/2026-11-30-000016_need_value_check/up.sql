-- PostgreSQL only (a CHECK on a need's value): SQLite stores decimals as text, and its
-- aggregation reads every need and checks its value in process. This file keeps the two
-- backends' migrations under the same names.
SELECT 1;
