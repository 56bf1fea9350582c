// Client and resource-server registrations. They hold no secrets (each client's secret is its own
// configuration key, from a file or Vault) and are validated before the provider starts: every
// problem is listed at once, and a redirect URI is accepted only if it is exact and safe.

export interface ClientRegistration {
  readonly clientId: string;
  readonly grantTypes: readonly ('client_credentials' | 'authorization_code')[];
  readonly scopes: readonly string[];
  readonly redirectUris: readonly string[];
  /**
   * Tenant the client acts for; put into its access tokens as the `tenant` claim. Absent for an
   * operator client (acting for no tenant, e.g. the one holding `metrics:read`).
   */
  readonly tenant?: string;
}

export interface ResourceServer {
  readonly resource: string;
  readonly scopes: readonly string[];
}

/** Thrown when the registrations are invalid; lists every problem and never a secret (there is none). */
export class RegistrationError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid client or resource registrations:\n- ${problems.join('\n- ')}`);
    this.name = 'RegistrationError';
    this.problems = problems;
  }
}

const CLIENT_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/; // RFC 6749 scope-token
const GRANTS = new Set(['client_credentials', 'authorization_code']);
const LOOPBACK = /^(127(?:\.\d{1,3}){3}|\[::1\])$/;

/**
 * Why a redirect URI is refused, or undefined when it is acceptable: absolute, https (plain http
 * only to a loopback address, RFC 8252 §7.3), no user info, no fragment, no wildcard.
 */
export function redirectUriProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048)
    return 'must be a string of 1..2048 characters';
  if (value.includes('*')) return 'must not contain a wildcard';
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (parsed.hash !== '' || value.includes('#')) return 'must not contain a fragment';
  if (parsed.href !== value && `${parsed.href}` !== `${value}/`)
    return 'must be in normalized form (exact match is required)';
  if (parsed.username !== '' || parsed.password !== '') return 'must not contain user info';
  if (parsed.protocol === 'http:')
    return LOOPBACK.test(parsed.hostname) ? undefined : 'must use https (http only for loopback IPs)';
  if (parsed.protocol !== 'https:') return 'must use https';
  return undefined;
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((item) => typeof item === 'string') ? (value as string[]) : undefined;
}

/**
 * The configuration key holding a client's secret: `HUB_CLIENT_SECRET_<ID>` (upper case, every
 * character but A-Z and 0-9 as `_`). Several ids can name one key (`issues-admin`, `issues.admin`):
 * {@link parseClients} refuses such registrations.
 */
export function clientSecretVariable(clientId: string): string {
  return `HUB_CLIENT_SECRET_${clientId.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * Validates the `HUB_CLIENTS` document. With `resources`, also refuses every client scope that no
 * resource server serves: oidc-provider would accept the client, then refuse each of its token
 * requests.
 */
export function parseClients(document: unknown, resources?: readonly ResourceServer[]): ClientRegistration[] {
  // `openid` is the provider's own (its default claims define it); every other scope a resource's.
  const served = resources === undefined ? undefined : new Set(['openid', ...resources.flatMap((r) => r.scopes)]);
  const problems: string[] = [];
  const clients: ClientRegistration[] = [];
  if (!Array.isArray(document) || document.length === 0)
    throw new RegistrationError(['HUB_CLIENTS must be a non-empty JSON array']);
  const seen = new Set<string>();
  const bySecretVariable = new Map<string, string>();
  document.forEach((entry: unknown, index) => {
    const where = `HUB_CLIENTS[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${where} must be an object`);
      return;
    }
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!['client_id', 'grant_types', 'scopes', 'redirect_uris', 'tenant'].includes(key))
        problems.push(`${where}.${key} is not a known field`);
      if (key === 'client_secret')
        problems.push(
          `${where} must not hold a client secret: set ${where}'s secret through its HUB_CLIENT_SECRET_<ID> key`,
        );
    }
    const id = e.client_id;
    if (typeof id !== 'string' || !CLIENT_ID.test(id)) problems.push(`${where}.client_id must match ${CLIENT_ID}`);
    else if (seen.has(id)) problems.push(`${where}.client_id is registered twice`);
    else {
      seen.add(id);
      // Two clients reading one secret could authenticate as each other, even across tenants.
      const variable = clientSecretVariable(id);
      const other = bySecretVariable.get(variable);
      if (other === undefined) bySecretVariable.set(variable, id);
      else
        problems.push(
          `${where}.client_id "${id}" and client_id "${other}" would both read their secret from ${variable}: rename one of them`,
        );
    }
    const grants = stringList(e.grant_types);
    if (!grants || grants.length === 0 || grants.some((g) => !GRANTS.has(g))) {
      problems.push(`${where}.grant_types must list client_credentials and/or authorization_code`);
    }
    const scopes = stringList(e.scopes);
    if (!scopes || scopes.some((s) => !SCOPE.test(s)))
      problems.push(`${where}.scopes must be a list of RFC 6749 scope tokens`);
    else if (scopes.length === 0) problems.push(`${where}.scopes must list at least one scope`);
    else if (served !== undefined) {
      scopes.forEach((scope, i) => {
        if (!served.has(scope))
          problems.push(
            `${where}.scopes[${i}] ${JSON.stringify(scope)} is served by no HUB_RESOURCES entry: add it to a resource server's scopes or remove it`,
          );
      });
    }
    const redirects = e.redirect_uris === undefined ? [] : stringList(e.redirect_uris);
    if (!redirects) problems.push(`${where}.redirect_uris must be a list of URLs`);
    else {
      redirects.forEach((uri, i) => {
        const problem = redirectUriProblem(uri);
        if (problem) problems.push(`${where}.redirect_uris[${i}] ${problem}`);
      });
      if (grants?.includes('authorization_code') && redirects.length === 0) {
        problems.push(`${where}.redirect_uris must list at least one URI for authorization_code`);
      }
      if (!grants?.includes('authorization_code') && redirects.length > 0) {
        problems.push(`${where}.redirect_uris is only allowed with authorization_code`);
      }
    }
    // No tenant: an operator client, whose tokens carry no tenant claim.
    const tenant = e.tenant;
    if (tenant !== undefined && (typeof tenant !== 'string' || !CLIENT_ID.test(tenant)))
      problems.push(`${where}.tenant must match ${CLIENT_ID} (or be left out for an operator client)`);
    if (problems.length === 0) {
      clients.push({
        clientId: id as string,
        grantTypes: grants as ClientRegistration['grantTypes'],
        scopes: scopes as string[],
        redirectUris: redirects as string[],
        ...(tenant === undefined ? {} : { tenant: tenant as string }),
      });
    }
  });
  if (problems.length > 0) throw new RegistrationError(problems);
  return clients;
}

/** Validates the `HUB_RESOURCES` document. */
export function parseResources(document: unknown): ResourceServer[] {
  const problems: string[] = [];
  const servers: ResourceServer[] = [];
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new RegistrationError([
      'HUB_RESOURCES must be a JSON object: { "<resource indicator>": { "scopes": [...] } }',
    ]);
  }
  for (const [resource, entry] of Object.entries(document)) {
    const where = `HUB_RESOURCES[${JSON.stringify(resource)}]`;
    const problem = redirectUriProblem(resource);
    if (problem) problems.push(`${where}: the resource indicator ${problem}`);
    const scopes = stringList((entry as { scopes?: unknown } | null)?.scopes);
    if (!scopes || scopes.length === 0 || scopes.some((s) => !SCOPE.test(s))) {
      problems.push(`${where}.scopes must be a non-empty list of RFC 6749 scope tokens`);
    }
    if (!problem && scopes) servers.push({ resource, scopes });
  }
  if (servers.length === 0 && problems.length === 0)
    problems.push('HUB_RESOURCES must register at least one resource server');
  if (problems.length > 0) throw new RegistrationError(problems);
  return servers;
}

/**
 * Validates `HUB_CLIENTS` and `HUB_RESOURCES` together, every problem of both listed at once: each
 * document on its own, and (when the resources are valid) every client scope no resource serves.
 */
export function parseRegistrations(
  clientsDocument: unknown,
  resourcesDocument: unknown,
): { clients: ClientRegistration[]; resources: ResourceServer[] } {
  const problems: string[] = [];
  const collect = <T>(parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof RegistrationError)) throw error;
      problems.push(...error.problems);
      return undefined;
    }
  };
  const resources = collect(() => parseResources(resourcesDocument));
  const clients = collect(() => parseClients(clientsDocument, resources));
  if (clients === undefined || resources === undefined) throw new RegistrationError(problems);
  return { clients, resources };
}
