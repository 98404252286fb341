-- Organisations and access tokens.
-- SQLite form: UUIDs, instants and decimals are TEXT (decimals must never get NUMERIC affinity).
CREATE TABLE members (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    legal_name TEXT NOT NULL,
    siret TEXT NOT NULL,
    dwellings INTEGER NOT NULL CHECK (dwellings >= 0),
    contact_email TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE suppliers (
    id TEXT PRIMARY KEY,
    legal_name TEXT NOT NULL,
    siret TEXT NOT NULL UNIQUE,
    -- JSON array of e-mail addresses.
    contact_emails TEXT NOT NULL,
    -- JSON array of two-digit CPV divisions.
    cpv_divisions TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    coordinator_id TEXT NOT NULL REFERENCES members (id),
    cost_sharing_key TEXT NOT NULL CHECK (cost_sharing_key IN ('equal', 'dwellings', 'awarded_value')),
    coordinator_fee_percent TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id),
    member_id TEXT NOT NULL REFERENCES members (id),
    convention_signed_at TEXT,
    budget_ceiling TEXT,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (member_id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'lead', 'officer', 'supplier')),
    member_id TEXT REFERENCES members (id),
    supplier_id TEXT REFERENCES suppliers (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    CHECK ((role IN ('lead', 'officer')) = (member_id IS NOT NULL)),
    CHECK ((role = 'supplier') = (supplier_id IS NOT NULL))
);
