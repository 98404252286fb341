ALTER TABLE suppliers DROP COLUMN country;
ALTER TABLE suppliers DROP COLUMN identifier_type;
ALTER TABLE suppliers RENAME COLUMN identifier TO siret;
