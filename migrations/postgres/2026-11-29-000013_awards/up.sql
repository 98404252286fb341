-- Evaluation, awards, contracts and shared costs; needs follow their lot to the end.
ALTER TABLE needs DROP CONSTRAINT needs_status_check;
ALTER TABLE needs ADD CONSTRAINT needs_status_check CHECK (status IN ('draft', 'submitted', 'consolidated', 'withdrawn', 'rejected', 'awarded', 'contracted', 'unsuccessful', 'cancelled'));

-- The lead's evaluation of one bid version (scores of the non-price criteria, admissibility,
-- and the abnormally-low procedure).
CREATE TABLE bid_evaluations (
    bid_id UUID PRIMARY KEY REFERENCES bids (id),
    lot_id UUID NOT NULL REFERENCES tender_lots (id),
    -- JSON object {criterion name: score as a decimal string}.
    scores JSONB NOT NULL,
    admissibility TEXT NOT NULL CHECK (admissibility IN ('admissible', 'irregular', 'unacceptable', 'inappropriate')),
    reason TEXT,
    justification_requested_at TIMESTAMPTZ,
    justification_outcome TEXT CHECK (justification_outcome IN ('accepted', 'rejected')),
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX bid_evaluations_lot ON bid_evaluations (lot_id);

-- Awards of a lot, in order; at most one not withdrawn.
CREATE TABLE awards (
    id UUID PRIMARY KEY,
    lot_id UUID NOT NULL REFERENCES tender_lots (id),
    bid_id UUID NOT NULL REFERENCES bids (id),
    supplier_id UUID NOT NULL REFERENCES suppliers (id),
    rank INTEGER NOT NULL,
    reason TEXT,
    notification TEXT NOT NULL CHECK (notification IN ('electronic', 'postal')),
    -- 0 when there is no standstill (procedure or single bid).
    standstill_days INTEGER NOT NULL,
    certificates_due DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'withdrawn', 'contracted')),
    awarded_at TIMESTAMPTZ NOT NULL,
    withdrawn_at TIMESTAMPTZ,
    withdraw_reason TEXT
);
CREATE UNIQUE INDEX awards_one_live ON awards (lot_id) WHERE status <> 'withdrawn';

-- One contract per lot, with one part per member.
CREATE TABLE contracts (
    id UUID PRIMARY KEY,
    tender_id UUID NOT NULL REFERENCES tenders (id),
    lot_id UUID NOT NULL REFERENCES tender_lots (id),
    award_id UUID NOT NULL REFERENCES awards (id),
    group_id UUID NOT NULL REFERENCES groups (id),
    supplier_id UUID NOT NULL REFERENCES suppliers (id),
    total_ht NUMERIC NOT NULL,
    contract_months INTEGER NOT NULL,
    -- JSON array of the item totals (rule step 1).
    items JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT contracts_lot_key UNIQUE (lot_id)
);
CREATE INDEX contracts_group ON contracts (group_id);

CREATE TABLE contract_parts (
    contract_id UUID NOT NULL REFERENCES contracts (id),
    member_id UUID NOT NULL REFERENCES members (id),
    total_ht NUMERIC NOT NULL,
    total_vat NUMERIC NOT NULL,
    total_ttc NUMERIC NOT NULL,
    -- JSON: the part with its VAT lines, lines and allocation proof.
    detail JSONB NOT NULL,
    PRIMARY KEY (contract_id, member_id)
);
CREATE INDEX contract_parts_member ON contract_parts (member_id);

-- Shared costs of a group, split among its members by a key.
CREATE TABLE shared_costs (
    id UUID PRIMARY KEY,
    group_id UUID NOT NULL REFERENCES groups (id),
    label TEXT NOT NULL,
    amount NUMERIC NOT NULL,
    key TEXT NOT NULL CHECK (key IN ('equal', 'dwellings', 'awarded_value')),
    -- JSON array of the shares with their proof.
    shares JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX shared_costs_group ON shared_costs (group_id);
