DROP TABLE api_tokens;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE suppliers;
DROP TABLE members;
