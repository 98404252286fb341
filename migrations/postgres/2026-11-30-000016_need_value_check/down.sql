ALTER TABLE needs DROP CONSTRAINT needs_value_in_range;
