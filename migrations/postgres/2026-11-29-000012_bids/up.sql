-- Bids, one row per version; sealed until the tender's deadline by the queries that read them.
CREATE TABLE bids (
    id UUID PRIMARY KEY,
    tender_id UUID NOT NULL REFERENCES tenders (id),
    lot_id UUID NOT NULL REFERENCES tender_lots (id),
    supplier_id UUID NOT NULL REFERENCES suppliers (id),
    version INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('submitted', 'late', 'superseded', 'withdrawn')),
    technical_offer TEXT NOT NULL,
    total NUMERIC NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    sha256 TEXT NOT NULL,
    UNIQUE (lot_id, supplier_id, version)
);
CREATE INDEX bids_lot ON bids (lot_id);

CREATE TABLE bid_prices (
    bid_id UUID NOT NULL REFERENCES bids (id),
    item_id UUID NOT NULL REFERENCES tender_items (id),
    unit_price NUMERIC NOT NULL,
    PRIMARY KEY (bid_id, item_id)
);

-- A bid's receipt is hidden from the outbox listing until the tender's deadline: its
-- recipient and subject would tell the admin who bid.
ALTER TABLE outbox ADD COLUMN sealed_until TIMESTAMPTZ;
