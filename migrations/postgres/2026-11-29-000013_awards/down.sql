DROP TABLE shared_costs;
DROP TABLE contract_parts;
DROP TABLE contracts;
DROP TABLE awards;
DROP TABLE bid_evaluations;
ALTER TABLE needs DROP CONSTRAINT needs_status_check;
ALTER TABLE needs ADD CONSTRAINT needs_status_check CHECK (status IN ('draft', 'submitted', 'consolidated', 'withdrawn', 'rejected'));
