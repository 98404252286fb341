DROP FUNCTION tenderpool_condition_failed();
