CREATE TABLE users (id INT, email TEXT, password_hash TEXT, display_name TEXT);

INSERT INTO users VALUES (1, 'admin@example.test', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$0HvcgOHzfQaT6hwsCHj6tTg6zK1Kg7lQ8Qq0v1wWbJk', 'Admin');
