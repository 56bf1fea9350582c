import { LRUCache } from 'lru-cache';
const responses = new LRUCache<string, string>({ max: 500 });
export const handler = async (request: Request): Promise<Response> => {
  responses.set(request.url, 'x');
  return new Response('ok');
};
