export const port = Number(process.env.PORT || '3000');
export const level = process.env.LOG_LEVEL ?? 'info';
