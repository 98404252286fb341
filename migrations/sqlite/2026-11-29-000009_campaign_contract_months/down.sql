ALTER TABLE campaigns DROP COLUMN contract_months;
