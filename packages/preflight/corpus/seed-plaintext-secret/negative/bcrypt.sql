INSERT INTO users (email, password) VALUES ('admin@example.test', '$2b$12$KIXQ4cV8fD3m1Xj9yB2bO.4Q8zZr8n0m7Y5q3a1s9d7f5g3h1j0kW');
