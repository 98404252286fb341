-- A need's quantity and unit price are not negative and its value, rounded to the cent, is at
-- most 999 999 999 999.99: the API refuses anything else, and this makes it a rule of the
-- schema. The aggregation adds values up in SQL (`needs::store::summed_in_sql`) and relies on
-- it instead of checking every need again on each read.
ALTER TABLE needs ADD CONSTRAINT needs_value_in_range CHECK (
    quantity >= 0
    AND estimated_unit_price >= 0
    AND round(quantity * estimated_unit_price, 2) <= 999999999999.99
);
