DROP TRIGGER members_fixed_code ON members;
DROP TRIGGER campaigns_fixed_columns ON campaigns;
DROP FUNCTION tenderpool_fixed_columns();
DROP FUNCTION tenderpool_condition_failed();
