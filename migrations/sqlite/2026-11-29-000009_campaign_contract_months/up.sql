-- Duration of the future contracts in months, renewals included (1-48). Need quantities are
-- per year; the procedure advice compares the value over this duration (R2121-1).
ALTER TABLE campaigns ADD COLUMN contract_months INTEGER NOT NULL DEFAULT 12
    CHECK (contract_months BETWEEN 1 AND 48);
