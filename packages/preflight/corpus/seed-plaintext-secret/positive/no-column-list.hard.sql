-- Known miss: without a column list, and without a CREATE TABLE of the table anywhere in the
-- scanned project, the values cannot be paired with column names.
INSERT INTO users VALUES (1, 'admin@example.test', 'admin-password-1');
