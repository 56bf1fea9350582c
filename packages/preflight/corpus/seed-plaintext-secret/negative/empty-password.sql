INSERT INTO users (email, password) VALUES ('locked@example.test', '');
