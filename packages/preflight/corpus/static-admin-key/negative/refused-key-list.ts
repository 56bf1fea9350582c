const keys = process.env.API_KEYS.split(',');
export function refuseListed(req) {
  if (keys.includes(req.headers['x-api-key'])) {
    throw new Error('this key was withdrawn');
  }
}
