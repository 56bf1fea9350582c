-- demo client for local development
INSERT INTO oauth_clients (client_id, client_secret, redirect_uri)
VALUES ('web', 'my-client-secret-123', 'http://localhost:3000/callback');
