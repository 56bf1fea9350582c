// The webhook sender: gets its access token from the hub through @rampart/bearer's TokenProvider
// (client credentials, cached per process and refreshed ahead of expiry) and names every delivery
// with an id the receiver accepts once.
import { randomUUID } from 'node:crypto';
import { createTokenProvider, type TokenProvider } from '@rampart/bearer';
import type { SenderConfig } from './config.ts';

export interface WebhookSender {
  /** Delivers `event`; pass `id` to re-send a delivery (a retry keeps its id). */
  send(event: unknown, id?: string): Promise<{ readonly id: string; readonly status: number; readonly body: unknown }>;
  readonly tokens: TokenProvider;
}

export function createWebhookSender(config: SenderConfig): WebhookSender {
  const tokens = createTokenProvider({
    tokenEndpoint: config.OAUTH_TOKEN_ENDPOINT,
    clientId: config.WEBHOOK_SENDER_CLIENT_ID,
    authentication: { method: 'client_secret_basic', clientSecret: config.WEBHOOK_SENDER_CLIENT_SECRET.reveal() },
  });
  return {
    tokens,
    async send(event, id = `evt_${randomUUID()}`) {
      const response = await fetch(config.WEBHOOK_URL, {
        method: 'POST',
        headers: {
          authorization: await tokens.getAuthorizationHeader({
            audience: config.WEBHOOK_AUDIENCE,
            scopes: ['webhooks:deliver'],
          }),
          'content-type': 'application/json',
          'webhook-id': id,
        },
        body: JSON.stringify(event),
        redirect: 'error',
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the text
      }
      return { id, status: response.status, body };
    },
  };
}
