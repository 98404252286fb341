-- Lists kept as JSON documents become jsonb (SQLite keeps them as TEXT).
ALTER TABLE suppliers
    ALTER COLUMN contact_emails TYPE jsonb USING contact_emails::jsonb,
    ALTER COLUMN cpv_divisions TYPE jsonb USING cpv_divisions::jsonb;
ALTER TABLE campaigns
    ALTER COLUMN cpv_scope TYPE jsonb USING cpv_scope::jsonb;
