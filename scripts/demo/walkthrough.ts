// The scripted walkthrough of `./run demo`: each step names the shortcut it replaces and checks
// what the stack answered. Exits non-zero under --once when a step fails.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { loadSenderConfig } from '../../examples/webhook/src/config.ts';
import { createWebhookSender } from '../../examples/webhook/src/sender.ts';
import { type DemoClient, type Progress, type Stack, startStack } from './stack.ts';

const once = process.argv.includes('--once');
const tty = process.stdout.isTTY === true;
const say = (text: string): void => void process.stdout.write(`${text}\n`);
const detail = (text: string): void => say(`    ${text}`);
let failures = 0;

const progress: Progress = async (title, action) => {
  // On a terminal the pending line shows progress while a server starts; in logs, one line a step.
  if (tty) process.stdout.write(`… ${title}`);
  const started = Date.now();
  const result = await action();
  process.stdout.write(`${tty ? '\r\x1b[K' : ''}✓ ${title} (${Date.now() - started} ms)\n`);
  return result;
};

class StepFailed extends Error {}
const expect = (condition: boolean, what: string): void => {
  if (!condition) throw new StepFailed(what);
};

async function step(n: number, title: string, action: () => Promise<void>): Promise<void> {
  say(`\n${n}. ${title}`);
  try {
    await action();
  } catch (error) {
    failures++;
    say(`✗ step ${n} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function mint(
  stack: Stack,
  client: DemoClient,
  resource: string,
  scope: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${stack.hubUrl}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function token(stack: Stack, client: DemoClient, resource: string, scope: string): Promise<string> {
  const { status, body } = await mint(stack, client, resource, scope);
  expect(
    status === 200 && typeof body.access_token === 'string',
    `the hub answered ${status} to ${client.id}: ${body.error} ${body.error_description ?? ''}`,
  );
  return body.access_token as string;
}

const decode = (jwt: string, part: 0 | 1): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split('.')[part] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;

async function call(
  url: string,
  init: RequestInit & { token?: string } = {},
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  if (init.body) headers.set('content-type', 'application/json');
  const response = await fetch(url, { ...init, headers });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, body };
}

/** A Vault KV reader over plain fetch, for the sender's `vault:` reference. */
const vaultReader = (stack: Stack) => ({
  async read(path: string): Promise<unknown> {
    const response = await fetch(`${stack.vault.addr}/v1/${path}`, {
      headers: { 'x-vault-token': readFileSync(stack.vaultTokenFile, 'utf8') },
    });
    if (!response.ok)
      throw Object.assign(new Error(`Vault answered ${response.status}`), {
        response: { statusCode: response.status },
      });
    return response.json();
  },
});

// When the launcher (scripts/demo.ts) dies without passing on a signal (SIGKILL, a closed terminal
// it did not survive), the IPC channel it opened closes: stop the stack instead of orphaning it.
// Redis, the Vault dev server and the temp dir go with this process (the test-kit's exit hook);
// the services, forked with IPC channels of their own, stop when this process is gone.
let stopStack: (() => Promise<void>) | undefined;
let stopping = false;
const shutdown = (code: number): void => {
  // A signal can arrive twice (from the terminal and forwarded by the launcher): stop once.
  if (stopping) return;
  stopping = true;
  if (stopStack === undefined) return void process.exit(code);
  say('\nstopping the stack…');
  void stopStack().finally(() => process.exit(code));
};
process.once('disconnect', () => shutdown(1));
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));
process.on('SIGHUP', () => shutdown(0));

say('rampart demo: an authorization hub, an issues API and a webhook receiver, hardened, on loopback\n');
let stack: Stack;
try {
  stack = await startStack(progress);
  stopStack = stack.stop;
} catch (error) {
  say(`✗ the stack did not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
const s = stack;

let adminToken = '';
await step(
  1,
  'A token is minted: client credentials + resource indicator → RFC 9068 JWT (replaces static admin keys)',
  async () => {
    adminToken = await token(s, s.clients.admin, s.apiUrl, 'issues:read issues:write');
    const header = decode(adminToken, 0);
    const claims = decode(adminToken, 1);
    detail(
      `issues-admin got a ${header.alg} token, typ ${header.typ}, aud ${claims.aud}, scope "${claims.scope}", tenant ${claims.tenant}, expires in ${Number(claims.exp) - Number(claims.iat)} s`,
    );
    expect(header.typ === 'at+jwt' && claims.aud === s.apiUrl, 'the token is not an RFC 9068 access token for the API');
    const refused = await mint(s, s.clients.reader, s.apiUrl, 'issues:write');
    detail(`issues-reader asking for issues:write (not registered for it): ${refused.status} ${refused.body.error}`);
    expect(refused.status === 400, 'the hub granted a scope the client is not registered for');
  },
);

await step(2, 'An authorized call: GET /issues with a bearer token carrying issues:read', async () => {
  const response = await call(`${s.apiUrl}/issues`, { token: adminToken });
  detail(
    `GET /issues with the admin token: ${response.status}; Content-Security-Policy: ${response.headers.get('content-security-policy')}`,
  );
  expect(response.status === 200, `got ${response.status}`);
  const anonymous = await call(`${s.apiUrl}/issues`);
  detail(`without a token: ${anonymous.status}, WWW-Authenticate: ${anonymous.headers.get('www-authenticate')}`);
  expect(anonymous.status === 401, `anonymous call got ${anonymous.status}`);
});

let issueId = 0;
await step(3, 'A missing scope is refused: a read-only client tries to create an issue', async () => {
  const readerToken = await token(s, s.clients.reader, s.apiUrl, 'issues:read');
  const response = await call(`${s.apiUrl}/issues`, {
    method: 'POST',
    token: readerToken,
    body: JSON.stringify({ title: 'x', description: 'x' }),
  });
  detail(`${response.status}, WWW-Authenticate: ${response.headers.get('www-authenticate')}`);
  expect(response.status === 403, `got ${response.status}`);
});

const email = `reporter-${randomBytes(3).toString('hex')}@example.com`;
await step(4, 'An XSS payload is stored sanitized (ugc preset)', async () => {
  const payload =
    '<p>Login fails</p><img src=x onerror="alert(document.cookie)"><script>alert(1)</script><a href="javascript:alert(2)">details</a>';
  detail(`sent:   ${payload}`);
  const created = await call(`${s.apiUrl}/issues`, {
    method: 'POST',
    token: adminToken,
    body: JSON.stringify({ title: 'Login fails', description: payload, reporterEmail: email }),
  });
  expect(created.status === 201, `create answered ${created.status}`);
  issueId = (created.body as { id: number }).id;
  const stored = await call(`${s.apiUrl}/issues/${issueId}`, { token: adminToken });
  const description = (stored.body as { description: string }).description;
  detail(`stored: ${description}`);
  detail(`removed: ${JSON.stringify((created.body as { removed: unknown }).removed)}`);
  expect(!/onerror|<script|javascript:/i.test(description), 'the stored description still holds script');
  const mail = await call(`${s.apiUrl}/inbound-email`, {
    method: 'POST',
    token: adminToken,
    body: JSON.stringify({
      from: email,
      subject: 'Re: login',
      html: '<div style="color:red">Still broken<iframe src="https://evil.example"></iframe></div>',
    }),
  });
  detail(`inbound email (email preset): ${mail.status}, stored ${(mail.body as { description: string }).description}`);
  expect(
    mail.status === 201 && !/iframe/i.test((mail.body as { description: string }).description),
    'inbound email was not sanitized',
  );
});

await step(
  5,
  "The reporter's email is ciphertext at rest (Vault Transit envelope bound to tenant + record id)",
  async () => {
    const db = new DatabaseSync(s.databasePath, { readOnly: true });
    const row = db.prepare('SELECT reporter_email FROM issues WHERE id = ?').get(issueId) as
      | { reporter_email: string }
      | undefined;
    db.close();
    const stored = row?.reporter_email ?? '';
    detail(`in ${join('<tmp>', 'issues.sqlite')}: reporter_email = ${stored.slice(0, 48)}… (${stored.length} chars)`);
    expect(stored.length > 0 && !stored.includes(email) && !stored.includes('@'), 'the email is stored in plaintext');
    const api = await call(`${s.apiUrl}/issues/${issueId}`, { token: adminToken });
    detail(
      `through the API (tenant acme, record ${issueId}): ${(api.body as { reporterEmail: string }).reporterEmail}`,
    );
    expect((api.body as { reporterEmail: string }).reporterEmail === email, 'the API did not decrypt the email');
  },
);

await step(
  6,
  `Rate limit: ${s.clientRateLimit} requests a minute per client, counted in Redis (all pods share it)`,
  async () => {
    const burstToken = await token(s, s.clients.burst, s.apiUrl, 'issues:read');
    let last: Awaited<ReturnType<typeof call>> | undefined;
    let sent = 0;
    for (; sent < s.clientRateLimit + 5; sent++) {
      last = await call(`${s.apiUrl}/issues`, { token: burstToken });
      if (last.status === 429) break;
    }
    expect(last?.status === 429, `no 429 after ${sent} requests`);
    detail(`request ${sent + 1}: 429; Retry-After: ${last?.headers.get('retry-after')}`);
    detail(`RateLimit-Policy: ${last?.headers.get('ratelimit-policy')}`);
    detail(`RateLimit: ${last?.headers.get('ratelimit')}`);
  },
);

await step(
  7,
  'A replayed webhook is rejected (bearer + webhooks:deliver, delivery ids in a Redis ReplayGuard; replaces HMAC)',
  async () => {
    const sender = createWebhookSender(await loadSenderConfig(s.senderEnv, vaultReader(s)));
    const id = `evt_${randomUUID()}`;
    const first = await sender.send({ type: 'issue.created', id: issueId }, id);
    detail(`delivery ${id}: ${first.status}`);
    const again = await sender.send({ type: 'issue.created', id: issueId }, id);
    detail(`the same delivery again: ${again.status} ${JSON.stringify(again.body)}`);
    expect(first.status === 202 && again.status === 409, `got ${first.status} then ${again.status}`);
  },
);

await step(
  8,
  '/metrics answers 404 to unauthenticated callers (and serves the operator client with metrics:read)',
  async () => {
    const anonymous = await call(`${s.apiUrl}/metrics`);
    detail(`without a token: ${anonymous.status}`);
    const readerToken = await token(s, s.clients.reader, s.apiUrl, 'issues:read');
    const lacking = await call(`${s.apiUrl}/metrics`, { token: readerToken });
    detail(`with a valid token lacking metrics:read: ${lacking.status}`);
    const operatorToken = await token(s, s.clients.operator, s.apiUrl, 'metrics:read');
    const allowed = await call(`${s.apiUrl}/metrics`, { token: operatorToken });
    detail(
      `with metrics:read (operator client, no tenant): ${allowed.status}, ${String(allowed.body).split('\n').length - 1} series`,
    );
    expect(
      anonymous.status === 404 && lacking.status === 404 && allowed.status === 200,
      `got ${anonymous.status} / ${lacking.status} / ${allowed.status}`,
    );
  },
);

await step(9, 'A dev secret is refused by config in production', async () => {
  const devFile = join(s.dir, 'dev-secret');
  // What `rampart-config gen-dev` writes into a dev profile: random, but marked as a dev value.
  writeFileSync(devFile, `rampart-dev-${randomBytes(32).toString('base64url')}`, { mode: 0o600 });
  const env = { ...s.senderEnv, WEBHOOK_SENDER_CLIENT_SECRET: undefined, WEBHOOK_SENDER_CLIENT_SECRET_FILE: devFile };
  try {
    await loadSenderConfig(env, vaultReader(s));
    throw new StepFailed('the dev secret was accepted');
  } catch (error) {
    if (error instanceof StepFailed) throw error;
    const e = error as { name?: string; code?: string; issues?: { key: string; rules?: string[] }[] };
    detail(
      `${e.name} ${e.code}: ${(e.issues ?? []).map((i) => `${i.key} (${(i.rules ?? []).join(', ')})`).join('; ')}`,
    );
    expect(
      e.name === 'ConfigError' && (e.issues ?? []).some((i) => i.rules?.includes('dev-marker')),
      'refused for another reason',
    );
  }
});

say('');
say(`Hub:     ${s.hubUrl}  (token endpoint ${s.hubUrl}/token, JWKS ${s.hubUrl}/jwks)`);
say(`API:     ${s.apiUrl}`);
say(`Webhook: ${s.webhookUrl}/deliveries`);
say(`Redis:   ${s.redis.url}`);
if (failures > 0) say(`\n✗ ${failures} step(s) failed.`);
if (once) {
  await s.stop();
  say(failures === 0 ? '\nwalkthrough complete; everything stopped (--once).' : '\neverything stopped (--once).');
  process.exit(failures === 0 ? 0 : 1);
}
say('\nwalkthrough complete; the stack keeps running. Press Ctrl-C to stop it.');
setInterval(() => {}, 60_000);
