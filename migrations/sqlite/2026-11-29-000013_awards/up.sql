-- Evaluation, awards, contracts and shared costs; needs follow their lot to the end.
-- SQLite cannot change a CHECK constraint: the needs table is rebuilt (foreign keys off,
-- outside diesel's transaction: see metadata.toml), as SQLite's documentation prescribes.
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
    status TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'consolidated', 'withdrawn', 'rejected', 'awarded', 'contracted', 'unsuccessful', 'cancelled')),
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

-- The lead's evaluation of one bid version (scores of the non-price criteria, admissibility,
-- and the abnormally-low procedure).
CREATE TABLE bid_evaluations (
    bid_id TEXT PRIMARY KEY REFERENCES bids (id),
    lot_id TEXT NOT NULL REFERENCES tender_lots (id),
    -- JSON object {criterion name: score as a decimal string}.
    scores TEXT NOT NULL,
    admissibility TEXT NOT NULL CHECK (admissibility IN ('admissible', 'irregular', 'unacceptable', 'inappropriate')),
    reason TEXT,
    justification_requested_at TEXT,
    justification_outcome TEXT CHECK (justification_outcome IN ('accepted', 'rejected')),
    updated_at TEXT NOT NULL
);
CREATE INDEX bid_evaluations_lot ON bid_evaluations (lot_id);

-- Awards of a lot, in order; at most one not withdrawn.
CREATE TABLE awards (
    id TEXT PRIMARY KEY,
    lot_id TEXT NOT NULL REFERENCES tender_lots (id),
    bid_id TEXT NOT NULL REFERENCES bids (id),
    supplier_id TEXT NOT NULL REFERENCES suppliers (id),
    rank INTEGER NOT NULL,
    reason TEXT,
    notification TEXT NOT NULL CHECK (notification IN ('electronic', 'postal')),
    -- 0 when there is no standstill (procedure or single bid).
    standstill_days INTEGER NOT NULL,
    certificates_due TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'withdrawn', 'contracted')),
    awarded_at TEXT NOT NULL,
    withdrawn_at TEXT,
    withdraw_reason TEXT
);
CREATE UNIQUE INDEX awards_one_live ON awards (lot_id) WHERE status <> 'withdrawn';

-- One contract per lot, with one part per member.
CREATE TABLE contracts (
    id TEXT PRIMARY KEY,
    tender_id TEXT NOT NULL REFERENCES tenders (id),
    lot_id TEXT NOT NULL REFERENCES tender_lots (id),
    award_id TEXT NOT NULL REFERENCES awards (id),
    group_id TEXT NOT NULL REFERENCES groups (id),
    supplier_id TEXT NOT NULL REFERENCES suppliers (id),
    total_ht TEXT NOT NULL,
    contract_months INTEGER NOT NULL,
    -- JSON array of the item totals (rule step 1).
    items TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT contracts_lot_key UNIQUE (lot_id)
);
CREATE INDEX contracts_group ON contracts (group_id);

CREATE TABLE contract_parts (
    contract_id TEXT NOT NULL REFERENCES contracts (id),
    member_id TEXT NOT NULL REFERENCES members (id),
    total_ht TEXT NOT NULL,
    total_vat TEXT NOT NULL,
    total_ttc TEXT NOT NULL,
    -- JSON: the part with its VAT lines, lines and allocation proof.
    detail TEXT NOT NULL,
    PRIMARY KEY (contract_id, member_id)
);
CREATE INDEX contract_parts_member ON contract_parts (member_id);

-- Shared costs of a group, split among its members by a key.
CREATE TABLE shared_costs (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES groups (id),
    label TEXT NOT NULL,
    amount TEXT NOT NULL,
    key TEXT NOT NULL CHECK (key IN ('equal', 'dwellings', 'awarded_value')),
    -- JSON array of the shares with their proof.
    shares TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX shared_costs_group ON shared_costs (group_id);
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
