INSERT INTO "api_keys" ("name", "api_key") VALUES ('ci', 'sk_live_51HxLocalKeyForSeeding');
