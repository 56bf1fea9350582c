UPDATE users SET password = 'changeme', updated_at = now() WHERE email = 'admin@example.test';
