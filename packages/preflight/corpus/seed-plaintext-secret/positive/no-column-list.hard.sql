-- Known miss: without a column list, and without the CREATE TABLE in this file, the values
-- cannot be paired with column names.
INSERT INTO users VALUES (1, 'admin@example.test', 'admin-password-1');
