export const key = (process.env.ADMIN_API_KEY as string | undefined) ?? 'admin-key-for-dev';
