DROP TABLE bid_prices;
DROP TABLE bids;
