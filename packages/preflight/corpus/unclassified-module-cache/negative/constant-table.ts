export const MIME = { html: 'text/html', json: 'application/json' };
export function mime(req: { ext: 'html' | 'json' }): string {
  return MIME[req.ext];
}
