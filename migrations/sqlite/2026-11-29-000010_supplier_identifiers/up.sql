-- Suppliers from outside France: the SIRET column becomes the identifier of a DECP type
-- (SIRET, TVA, TAHITI, RIDET, FRWF, IREP, HORS-UE) with its country. Existing rows are SIRETs.
-- The column's UNIQUE constraint follows the rename (reported as suppliers.identifier).
ALTER TABLE suppliers RENAME COLUMN siret TO identifier;
ALTER TABLE suppliers ADD COLUMN identifier_type TEXT NOT NULL DEFAULT 'SIRET'
    CHECK (identifier_type IN ('SIRET', 'TVA', 'TAHITI', 'RIDET', 'FRWF', 'IREP', 'HORS-UE'));
ALTER TABLE suppliers ADD COLUMN country TEXT NOT NULL DEFAULT 'FR';
