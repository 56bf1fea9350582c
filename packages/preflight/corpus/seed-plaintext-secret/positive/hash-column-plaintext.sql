INSERT INTO accounts (email, password_hash) VALUES ('a@example.test', 'hunter2');
