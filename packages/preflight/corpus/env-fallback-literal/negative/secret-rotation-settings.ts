// Settings about a secret, not the secret: how often it rotates and which scheme hashes it.
export const rotationDays = Number(process.env.SECRET_ROTATION_DAYS || '30');
export const graceHours = Number(process.env.API_KEY_GRACE_HOURS ?? '24');
export const hasher = process.env.PASSWORD_HASHER || 'argon2';
export const kdf = process.env.ENCRYPTION_KEY_KDF ?? 'hkdf-sha256';
