-- SQLite keeps JSON documents as TEXT: nothing changes here. The migration exists so both
-- backends carry the same list of migration names.
SELECT 1;
