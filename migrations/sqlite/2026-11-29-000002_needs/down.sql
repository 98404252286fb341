DROP TABLE needs;
DROP TABLE campaigns;
