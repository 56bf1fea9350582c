-- Passwordless now: the third column is a display name.
ALTER TABLE users DROP COLUMN password;
ALTER TABLE users ADD COLUMN display_name text;
