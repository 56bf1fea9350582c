-- A column named `key` is a column, not a table constraint: the VALUES still pair up right.
CREATE TABLE api_clients (key TEXT PRIMARY KEY, client_secret TEXT, name TEXT);
INSERT INTO api_clients VALUES ('client-1', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$0HvcgOHzfQaT6hwsCHj6tTg6zK1Kg7lQ8Qq0v1wWbJk', 'Demo');
