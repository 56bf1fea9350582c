CREATE TABLE users (
  id serial PRIMARY KEY,
  password_hash text NOT NULL,
  api_key_id uuid
);
