-- PostgreSQL's function `tenderpool_condition_failed` has no counterpart here: on SQLite a
-- batch checks its condition with a query of its own before its inserts, in the same
-- transaction.

-- What the service keeps in process about campaigns (`campaigns::cache`) must never change:
-- a campaign's group, CPV scope and needs deadline, and a member's code. No route changes them;
-- these triggers make it a rule of the schema.
CREATE TRIGGER campaigns_fixed_columns
    BEFORE UPDATE OF group_id, cpv_scope, needs_deadline ON campaigns
    FOR EACH ROW WHEN OLD.group_id IS NOT NEW.group_id
        OR OLD.cpv_scope IS NOT NEW.cpv_scope
        OR OLD.needs_deadline IS NOT NEW.needs_deadline
BEGIN
    SELECT RAISE(ABORT, 'campaigns: group_id, cpv_scope and needs_deadline never change');
END;
CREATE TRIGGER members_fixed_code
    BEFORE UPDATE OF code ON members
    FOR EACH ROW WHEN OLD.code IS NOT NEW.code
BEGIN
    SELECT RAISE(ABORT, 'members: code never changes');
END;
