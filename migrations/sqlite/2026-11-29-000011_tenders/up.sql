-- Tenders (consultations) split into lots of items, built from a campaign's submitted needs.
-- Decimals are TEXT (exact); instants fixed-width UTC TEXT; JSON as TEXT.
CREATE TABLE tenders (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES groups (id),
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    reference TEXT NOT NULL,
    title TEXT NOT NULL,
    procedure TEXT NOT NULL CHECK (procedure IN ('no_publicity', 'mapa', 'open_tender')),
    bid_deadline TEXT NOT NULL,
    contract_months INTEGER NOT NULL CHECK (contract_months BETWEEN 1 AND 48),
    price_method TEXT NOT NULL CHECK (price_method IN ('proportional', 'linear')),
    -- JSON array of {name, weight, kind}.
    criteria TEXT NOT NULL,
    -- JSON array of the supplier ids the lead listed (others are invited by CPV division).
    listed_suppliers TEXT NOT NULL,
    -- Stored status; "published" past the deadline is reported as "opened".
    status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'opened', 'evaluated', 'awarded', 'contracted', 'cancelled')),
    cancel_reason TEXT,
    published_at TEXT,
    cancelled_at TEXT,
    created_at TEXT NOT NULL,
    CONSTRAINT tenders_reference_key UNIQUE (reference)
);
CREATE INDEX tenders_group ON tenders (group_id);

CREATE TABLE tender_lots (
    id TEXT PRIMARY KEY,
    tender_id TEXT NOT NULL REFERENCES tenders (id),
    number INTEGER NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'awarded', 'unsuccessful', 'cancelled', 'contracted')),
    UNIQUE (tender_id, number)
);

CREATE TABLE tender_items (
    id TEXT PRIMARY KEY,
    lot_id TEXT NOT NULL REFERENCES tender_lots (id),
    position INTEGER NOT NULL,
    cpv TEXT NOT NULL,
    unit TEXT NOT NULL,
    vat_rate TEXT NOT NULL,
    quantity TEXT NOT NULL,
    UNIQUE (lot_id, position)
);

-- Each member's quantity of an item.
CREATE TABLE tender_item_parts (
    item_id TEXT NOT NULL REFERENCES tender_items (id),
    member_id TEXT NOT NULL REFERENCES members (id),
    quantity TEXT NOT NULL,
    PRIMARY KEY (item_id, member_id)
);

-- A need is in one item of one lot of one tender only: the primary key says so.
CREATE TABLE tender_needs (
    need_id TEXT PRIMARY KEY REFERENCES needs (id),
    item_id TEXT NOT NULL REFERENCES tender_items (id),
    member_id TEXT NOT NULL REFERENCES members (id)
);
CREATE INDEX tender_needs_item ON tender_needs (item_id);

-- Suppliers invited when the tender was published.
CREATE TABLE tender_invitations (
    tender_id TEXT NOT NULL REFERENCES tenders (id),
    supplier_id TEXT NOT NULL REFERENCES suppliers (id),
    invited_at TEXT NOT NULL,
    PRIMARY KEY (tender_id, supplier_id)
);
CREATE INDEX tender_invitations_supplier ON tender_invitations (supplier_id);
