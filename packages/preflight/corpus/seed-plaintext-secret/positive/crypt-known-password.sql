-- Supabase-style seed: pgcrypto hashes the password, which is still written here in plain text.
INSERT INTO auth.users (id, email, encrypted_password)
VALUES ('00000000-0000-0000-0000-000000000001', 'admin@example.test', crypt('admin123', gen_salt('bf')));
