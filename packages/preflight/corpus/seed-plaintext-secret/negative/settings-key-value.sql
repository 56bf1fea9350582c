INSERT INTO settings (key, value) VALUES ('password_policy', 'strict'), ('session_timeout', '30m');
