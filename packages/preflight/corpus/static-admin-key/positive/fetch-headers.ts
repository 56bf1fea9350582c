export default {
  fetch(request: Request): Response {
    if (request.headers.get('x-service-token') !== SERVICE_TOKEN) return new Response(null, { status: 401 });
    return new Response('ok');
  },
};
