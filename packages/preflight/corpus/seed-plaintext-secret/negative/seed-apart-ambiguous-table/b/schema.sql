CREATE TABLE accounts (id int, email text, password text);
