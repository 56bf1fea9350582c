import type { ServerResponse } from 'node:http';
import type { BearerResponse } from '../challenge.ts';

/**
 * Whether the response was already started or sent by someone else (a timeout middleware answered
 * while the token was being verified): it is theirs, so neither the answer nor the route's handler
 * may touch it any more.
 */
export function isAlreadyAnswered(res: ServerResponse): boolean {
  return res.headersSent || res.writableEnded;
}

/**
 * Writes a {@link BearerResponse} to a node:http (or Express) response; writes nothing to a
 * response that is {@link isAlreadyAnswered} (setting a header there throws ERR_HTTP_HEADERS_SENT,
 * and cutting the connection would break the answer already given).
 */
export function writeNodeResponse(res: ServerResponse, answer: BearerResponse): void {
  if (isAlreadyAnswered(res)) return;
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.end(answer.body);
}
