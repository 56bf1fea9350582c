// The settings beside it are not secrets (see negative/secret-rotation-settings.ts); the key is.
export const rotationDays = Number(process.env.SECRET_ROTATION_DAYS || '30');
export const secretKey = process.env.SECRET_KEY || 'x';
