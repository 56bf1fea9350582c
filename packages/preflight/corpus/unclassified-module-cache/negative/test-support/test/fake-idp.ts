const issued = new Map<string, string>();
export function token(req: { query: { sub: string } }): string {
  issued.set(req.query.sub, 'fake');
  return 'fake';
}
