export function isService(req) {
  const key = req.get('x-api-key') ?? '';
  return process.env.SERVICE_API_KEY.startsWith(key);
}
