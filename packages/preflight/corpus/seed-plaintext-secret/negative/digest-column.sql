INSERT INTO api_keys (name, key_hash) VALUES ('ci', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
