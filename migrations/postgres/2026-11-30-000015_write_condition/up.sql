-- A write sent as one statement whose rows depend on a condition (`db::batch::Batch::only_if`)
-- ends in `SELECT CASE WHEN <condition> THEN 1 ELSE tenderpool_condition_failed() END`: when
-- the condition no longer holds, the statement fails here and none of its rows is written.
-- The message is what the service recognises (`db::batch::CONDITION_FAILED`).
CREATE FUNCTION tenderpool_condition_failed() RETURNS integer AS $$
BEGIN
    RAISE EXCEPTION 'tenderpool_condition_failed';
END;
$$ LANGUAGE plpgsql VOLATILE;

-- What the service keeps in process about campaigns (`campaigns::cache`) must never change:
-- a campaign's group, CPV scope and needs deadline, and a member's code. No route changes them;
-- these triggers make it a rule of the schema.
CREATE FUNCTION tenderpool_fixed_columns() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '%: %', TG_TABLE_NAME, TG_ARGV[0];
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER campaigns_fixed_columns
    BEFORE UPDATE OF group_id, cpv_scope, needs_deadline ON campaigns
    FOR EACH ROW WHEN (OLD.group_id IS DISTINCT FROM NEW.group_id
        OR OLD.cpv_scope IS DISTINCT FROM NEW.cpv_scope
        OR OLD.needs_deadline IS DISTINCT FROM NEW.needs_deadline)
    EXECUTE FUNCTION tenderpool_fixed_columns('group_id, cpv_scope and needs_deadline never change');
CREATE TRIGGER members_fixed_code
    BEFORE UPDATE OF code ON members
    FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION tenderpool_fixed_columns('code never changes');
