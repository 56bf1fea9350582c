// TODO(#12, expires 2025-01-01): replace the static admin key with bearer auth
export const admin = true;
