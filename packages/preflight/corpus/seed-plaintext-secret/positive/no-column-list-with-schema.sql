-- init.sql for a local database: the table is created in the same file, so the VALUES pair up.
CREATE TABLE IF NOT EXISTS public.users (
  id SERIAL PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  password TEXT NOT NULL,
  CONSTRAINT users_email_lower CHECK (email = lower(email))
);

INSERT INTO public.users VALUES (1, 'admin@example.test', 'admin-password-1');
