import { config } from './config.ts';
export const isAdmin = (req) => config.adminKey.includes(req.headers['x-admin-key']);
