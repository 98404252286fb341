-- Needs campaigns (recensement des besoins) and needs.
CREATE TABLE campaigns (
    id UUID PRIMARY KEY,
    group_id UUID NOT NULL REFERENCES groups (id),
    title TEXT NOT NULL,
    -- JSON array of CPV prefixes; empty = any code.
    cpv_scope TEXT NOT NULL,
    needs_deadline TIMESTAMPTZ NOT NULL,
    -- Stored status; "open" past the deadline is reported as "closed".
    status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'frozen')),
    closed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX campaigns_group ON campaigns (group_id);

CREATE TABLE needs (
    id UUID PRIMARY KEY,
    campaign_id UUID NOT NULL REFERENCES campaigns (id),
    member_id UUID NOT NULL REFERENCES members (id),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    cpv TEXT NOT NULL,
    quantity NUMERIC NOT NULL,
    unit TEXT NOT NULL,
    estimated_unit_price NUMERIC NOT NULL,
    vat_rate NUMERIC NOT NULL,
    delivery_site TEXT NOT NULL,
    wanted_by DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'consolidated', 'withdrawn', 'rejected')),
    rejection_reason TEXT,
    submitted_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX needs_campaign ON needs (campaign_id);
CREATE INDEX needs_member ON needs (member_id);
