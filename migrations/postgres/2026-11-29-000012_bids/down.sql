ALTER TABLE outbox DROP COLUMN sealed_until;
DROP TABLE bid_prices;
DROP TABLE bids;
