CREATE TABLE public.users (
  id bigserial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  password text NOT NULL
);
