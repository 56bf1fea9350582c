export const url = process.env.DATABASE_URL || 'postgres://app:app-password@localhost:5432/app';
