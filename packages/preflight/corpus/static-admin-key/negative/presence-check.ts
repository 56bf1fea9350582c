export function hasKey(req: { headers: Record<string, string | undefined> }): boolean {
  return req.headers['x-api-key'] !== undefined && typeof req.headers['x-api-key'] === 'string';
}
