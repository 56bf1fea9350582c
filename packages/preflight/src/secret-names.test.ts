import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endsWithSecretWord, isSecretName, nameWords, requiresSharedStore, secretNameCount } from './secret-names.ts';
import { demoValueLabel, isHashShaped } from './secret-values.ts';

describe('isSecretName', () => {
  it('treats metadata words in the plural like the singular, and scopes and statuses as metadata', () => {
    for (const name of [
      'SECRET_FIELDS',
      'TOKEN_ENDPOINTS',
      'API_KEY_HEADERS',
      'TOKEN_PREFIXES',
      'ACCESS_TOKEN_AUDIENCES',
      'TOKEN_ISSUERS',
      'TOKEN_SCOPE',
      'TOKEN_STATUS',
      'TOKEN_STATUSES',
      'secretPolicies',
      'PASSWORD_HASHES',
    ]) {
      expect(isSecretName(name, 'env'), name).toBe(false);
    }
    for (const name of ['API_TOKENS', 'ADMIN_SECRETS', 'PASSWORDS', 'ACCESS_KEYS']) {
      expect(isSecretName(name.replace(/S$/, ''), 'env'), name).toBe(true);
    }
  });

  it('recognises secrets by word, in any casing convention', () => {
    for (const name of [
      'JWT_SECRET',
      'jwtSecret',
      'DB_PASSWORD',
      'apiKey',
      'X_API_KEY',
      'STRIPE_KEY',
      'client_secret',
      'AUTH_TOKEN',
    ]) {
      expect(isSecretName(name, 'env'), name).toBe(true);
    }
  });

  it('does not treat metadata about a secret as the secret', () => {
    for (const name of [
      'TOKEN_TTL',
      'JWT_ISSUER',
      'PASSWORD_MIN_LENGTH',
      'JWT_SECRET_FILE',
      'tokenType',
      'PUBLIC_KEY',
      'password_hash',
      'API_KEY_ID',
    ]) {
      expect(isSecretName(name, 'env'), name).toBe(false);
    }
  });

  it('finds a secret word closing a one-word SCREAMING name, not one inside other words', () => {
    for (const name of ['PGPASSWORD', 'JWTSECRET', 'SECRETKEY', 'APIKEY', 'GITHUBTOKEN', 'MYSQL_ROOTPASSWORD']) {
      expect(isSecretName(name, 'env'), name).toBe(true);
    }
    for (const name of [
      'BYPASS',
      'OLDPWD',
      'BASALT',
      'PASSWORDLESS',
      'TOKENIZER',
      'MONKEY',
      'PGPASSFILE',
      'Tokenizer',
    ]) {
      expect(isSecretName(name, 'env'), name).toBe(false);
    }
  });

  it('does not treat switches, sizes, algorithms and pointers to a secret as the secret', () => {
    for (const name of [
      'ENABLE_TOKEN_AUTH',
      'TOKEN_BYTES',
      'HMAC_ALGO',
      'JWT_SECRET_ENCODING',
      'SECRETS_MANAGER_REGION',
      'DB_SECRET_ARN',
      'DB_PASSWORD_SSM_PARAM',
      'TOKEN_REFRESH_INTERVAL_MS',
      'SECRET_ROTATION_DAYS',
      'API_KEY_GRACE_HOURS',
      'SESSION_SECRET_TTL_SECONDS',
      'PASSWORD_HASHER',
      'ENCRYPTION_KEY_KDF',
      'PASSWORD_HASH_ITERATIONS',
    ]) {
      expect(isSecretName(name, 'env'), name).toBe(false);
    }
    for (const name of ['REFRESH_TOKEN', 'REFRESH_TOKEN_SECRET', 'DB_PASSWORD', 'SECRETS']) {
      expect(isSecretName(name, 'env'), name).toBe(true);
    }
  });

  it('negates setting words only when they close the name after the secret word, switches only first', () => {
    for (const name of [
      'MS_CLIENT_SECRET',
      'MS_APP_PASSWORD',
      'AZURE_MS_TOKEN',
      'JWT_SECRET_MS_AUTH',
      'ADMIN_PARAMS_PASSWORD',
      'SSM_DB_PASSWORD',
      'REGION_API_KEY',
      'EU_REGION_SECRET',
      'BITS_API_KEY',
      'msClientSecret',
      'TOKEN_AUTH_ENABLE_SECRET',
      'SECRET_KEY',
      'DAYS_API_SECRET',
      'HASHER_SECRET',
    ]) {
      expect(isSecretName(name, 'env'), name).toBe(true);
    }
    // A column holding the raw bytes of a secret is the secret.
    expect(isSecretName('totp_secret_bytes', 'code')).toBe(true);
    for (const name of ['TOKEN_BYTES', 'DISABLE_PASSWORD_LOGIN', 'SECRET_ROTATION_TIMEOUT']) {
      expect(isSecretName(name, 'env'), name).toBe(false);
    }
  });

  it('does not read a flag or pager word before the secret word as a one-word secret', () => {
    for (const name of [
      'NOPASSWORD',
      'USEPASSWORD',
      'MAXTOKEN',
      'NEXTTOKEN',
      'PAGETOKEN',
      'CANCELTOKEN',
      'SHOWSECRET',
    ]) {
      expect(isSecretName(name, 'env'), name).toBe(false);
    }
    for (const name of ['PGPASSWORD', 'JWTSECRET', 'SECRETKEY', 'MYSQL_ROOTPASSWORD', 'NOTIFYTOKEN']) {
      expect(isSecretName(name, 'env'), name).toBe(true);
    }
  });

  it('tells whether the last word is the secret word', () => {
    for (const name of ['DB_PASSWORD', 'STRIPE_API_KEY', 'PGPASSWORD', 'JWT_SECRET']) {
      expect(endsWithSecretWord(name), name).toBe(true);
    }
    for (const name of ['ENABLE_TOKEN_AUTH', 'PASSWORD_LOGIN', 'KEY', 'TOKEN_AUTH']) {
      expect(endsWithSecretWord(name), name).toBe(false);
    }
  });

  it('splits names into the same words whatever the separator', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/), { minLength: 1, maxLength: 4 }), (words) => {
        const camel = words.map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1))).join('');
        expect(nameWords(words.join('_').toUpperCase())).toEqual(words);
        expect(nameWords(words.join('-'))).toEqual(words);
        expect(nameWords(camel).join('')).toEqual(words.join(''));
      }),
    );
  });
});

describe('demoValueLabel', () => {
  it('labels well-known demo values without echoing them', () => {
    for (const value of [
      'keyboard cat',
      'your-256-bit-secret',
      'AKIAIOSFODNN7EXAMPLE',
      'django-insecure-abc',
      'change-me-please',
      'postgres',
    ]) {
      const label = demoValueLabel(value);
      expect(label, value).toBeDefined();
      expect(label).not.toContain(value);
    }
    expect(demoValueLabel('Zx81kfP0qL2mVb7TnR4wQ9aa')).toBeUndefined();
  });
});

describe('isHashShaped', () => {
  it('accepts password hash formats and rejects plaintext', () => {
    expect(isHashShaped('$2b$12$KIXQ4cV8fD3m1Xj9yB2bO.4Q8zZr8n0m7Y5q3a1s9d7f5g3h1j0kW')).toBe(true);
    expect(isHashShaped('$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA')).toBe(true);
    expect(isHashShaped('scrypt:32768:8:1$salt$hash')).toBe(true);
    expect(isHashShaped('admin123')).toBe(false);
  });
});

describe('requiresSharedStore', () => {
  it('requires Redis for rate limits, nonces, sessions and replay guards', () => {
    for (const name of ['rateLimitWindows', 'usedNonces', 'sessions', 'replayGuard', 'loginAttempts']) {
      expect(requiresSharedStore(name), name).toBe(true);
    }
    expect(requiresSharedStore('templates')).toBe(false);
  });
});

describe('secretNameCount', () => {
  it('counts a plural secret word anywhere in the name as many, and a singular one as one', () => {
    for (const name of ['API_KEYS', 'ADMIN_TOKENS', 'apiTokens', 'API_TOKENS_V2', 'APITOKENS', 'jwtSecrets']) {
      expect(secretNameCount(name, 'code'), name).toBe('many');
    }
    for (const name of ['API_KEY', 'apiToken', 'CLIENT_CREDENTIALS', 'JWT_SECRET']) {
      expect(secretNameCount(name, 'code'), name).toBe('one');
    }
  });

  it('does not count plural metadata or names without a secret', () => {
    for (const name of [
      'TOKEN_AUDIENCES',
      'TOKEN_STATUS',
      'ALLOWED_ORIGINS',
      'API_KEY_IDS',
      'keyboards',
      'TOKENS_TTL',
    ]) {
      expect(secretNameCount(name, 'code'), name).toBeUndefined();
    }
  });
});
