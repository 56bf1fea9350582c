INSERT INTO users (id, email, password, role)
VALUES (1, 'admin@example.test', 'admin123', 'admin'),
       (2, 'user@example.test', 'Password1!', 'user');
