-- A write sent as one statement whose rows depend on a condition (`db::batch::Batch::only_if`)
-- ends in `SELECT CASE WHEN <condition> THEN 1 ELSE tenderpool_condition_failed() END`: when
-- the condition no longer holds, the statement fails here and none of its rows is written.
-- The message is what the service recognises (`db::batch::CONDITION_FAILED`).
CREATE FUNCTION tenderpool_condition_failed() RETURNS integer AS $$
BEGIN
    RAISE EXCEPTION 'tenderpool_condition_failed';
END;
$$ LANGUAGE plpgsql VOLATILE;
