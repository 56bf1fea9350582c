CREATE TABLE users (
  id INT PRIMARY KEY,
  email VARCHAR(255) NOT NULL,
  password VARCHAR(255) NOT NULL,
  KEY idx_email (email)
);
INSERT INTO users VALUES (1, 'admin@example.test', 'admin-password-1');
