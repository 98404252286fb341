-- Suppliers from outside France: the SIRET column becomes the identifier of a DECP type
-- (SIRET, TVA, TAHITI, RIDET, FRWF, IREP, HORS-UE) with its country. Existing rows are SIRETs.
ALTER TABLE suppliers RENAME COLUMN siret TO identifier;
ALTER TABLE suppliers RENAME CONSTRAINT suppliers_siret_key TO suppliers_identifier_key;
ALTER TABLE suppliers ADD COLUMN identifier_type TEXT NOT NULL DEFAULT 'SIRET'
    CHECK (identifier_type IN ('SIRET', 'TVA', 'TAHITI', 'RIDET', 'FRWF', 'IREP', 'HORS-UE'));
ALTER TABLE suppliers ADD COLUMN country TEXT NOT NULL DEFAULT 'FR';
