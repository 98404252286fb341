DROP TABLE tender_invitations;
DROP TABLE tender_needs;
DROP TABLE tender_item_parts;
DROP TABLE tender_items;
DROP TABLE tender_lots;
DROP TABLE tenders;
