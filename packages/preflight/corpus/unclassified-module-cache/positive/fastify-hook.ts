const replayGuard = new Set<string>();
fastify.addHook('onRequest', async (request) => {
  replayGuard.add(String(request.headers['x-request-id']));
});
