INSERT INTO users (email, password_hash) VALUES ('a@example.test', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$3q2+7w');
