PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE needs_rebuilt (
    id TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    member_id TEXT NOT NULL REFERENCES members (id),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    cpv TEXT NOT NULL,
    quantity TEXT NOT NULL,
    unit TEXT NOT NULL,
    estimated_unit_price TEXT NOT NULL,
    vat_rate TEXT NOT NULL,
    delivery_site TEXT NOT NULL,
    wanted_by TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'consolidated', 'withdrawn', 'rejected')),
    rejection_reason TEXT,
    submitted_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO needs_rebuilt SELECT * FROM needs;
DROP TABLE needs;
ALTER TABLE needs_rebuilt RENAME TO needs;
CREATE INDEX needs_campaign ON needs (campaign_id);
CREATE INDEX needs_member ON needs (member_id);
DROP TABLE shared_costs;
DROP TABLE contract_parts;
DROP TABLE contracts;
DROP TABLE awards;
DROP TABLE bid_evaluations;
COMMIT;
PRAGMA foreign_keys = ON;
