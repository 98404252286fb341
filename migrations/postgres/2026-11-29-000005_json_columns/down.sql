ALTER TABLE suppliers
    ALTER COLUMN contact_emails TYPE text USING contact_emails::text,
    ALTER COLUMN cpv_divisions TYPE text USING cpv_divisions::text;
ALTER TABLE campaigns
    ALTER COLUMN cpv_scope TYPE text USING cpv_scope::text;
