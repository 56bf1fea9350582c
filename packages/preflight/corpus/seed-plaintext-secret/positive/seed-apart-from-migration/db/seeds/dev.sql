-- The seed has no column list and the table is created in a migration: paired through it.
INSERT INTO users VALUES (1, 'admin@example.test', 'admin-password-1');
