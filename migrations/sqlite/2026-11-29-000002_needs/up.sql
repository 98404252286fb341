-- Needs campaigns (recensement des besoins) and needs.
-- SQLite form: UUIDs, instants, dates and decimals are TEXT.
CREATE TABLE campaigns (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES groups (id),
    title TEXT NOT NULL,
    -- JSON array of CPV prefixes; empty = any code.
    cpv_scope TEXT NOT NULL,
    needs_deadline TEXT NOT NULL,
    -- Stored status; "open" past the deadline is reported as "closed".
    status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'frozen')),
    closed_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX campaigns_group ON campaigns (group_id);

CREATE TABLE needs (
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
CREATE INDEX needs_campaign ON needs (campaign_id);
CREATE INDEX needs_member ON needs (member_id);
