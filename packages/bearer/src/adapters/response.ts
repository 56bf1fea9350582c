import type { ServerResponse } from 'node:http';
import type { BearerResponse } from '../challenge.ts';

/** Writes a {@link BearerResponse} to a node:http (or Express) response. */
export function writeNodeResponse(res: ServerResponse, answer: BearerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.end(answer.body);
}
