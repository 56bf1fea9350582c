export const isService = (req) => process.env.SERVICE_SECRET.includes(req.headers['x-api-key'] ?? '');
