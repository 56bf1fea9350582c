INSERT INTO roles (name, description) VALUES ('admin', 'Administrators'), ('password-reset', 'Can reset passwords');
