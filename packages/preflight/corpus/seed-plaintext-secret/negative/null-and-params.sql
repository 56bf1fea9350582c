INSERT INTO users (email, password) VALUES ('sso@example.test', NULL);
INSERT INTO users (email, password) VALUES ($1, $2);
