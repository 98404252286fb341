ALTER TABLE suppliers DROP COLUMN country;
ALTER TABLE suppliers DROP COLUMN identifier_type;
ALTER TABLE suppliers RENAME CONSTRAINT suppliers_identifier_key TO suppliers_siret_key;
ALTER TABLE suppliers RENAME COLUMN identifier TO siret;
