DROP TRIGGER members_fixed_code;
DROP TRIGGER campaigns_fixed_columns;
