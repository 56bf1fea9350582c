export const token = import.meta.env.SENTRY_AUTH_TOKEN ?? 'sntrys_dev';
