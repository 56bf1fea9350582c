-- Another service's table of the same name, with other columns.
CREATE TABLE accounts (id int, email text, nickname text);
