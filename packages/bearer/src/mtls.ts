import { createHash, timingSafeEqual } from 'node:crypto';
import { BearerError, invalidToken } from './errors.ts';
import type { BearerRequestLike } from './request.ts';
import { isJsonObject } from './strict-json.ts';
import type { VerificationStep } from './verifier-options.ts';

/** Where a proxy that terminates TLS puts the client certificate. */
export interface TrustedCertificateHeader {
  /** Lower-case header name, e.g. `x-ssl-client-cert` (nginx `$ssl_client_escaped_cert`). */
  readonly name: string;
  /** `pem-urlencoded` (nginx, AWS ALB) or `base64-der`. */
  readonly encoding: 'pem-urlencoded' | 'base64-der';
}

/**
 * mTLS-bound tokens (RFC 8705). Tokens with `cnf.x5t#S256` are always enforced, with or without
 * these options: by default the certificate comes from the TLS socket.
 */
export interface MtlsOptions {
  /**
   * Take the client certificate from this header instead of the socket. Only when TLS ends at a
   * proxy that always overwrites this header: otherwise any client can claim any certificate.
   */
  readonly trustedProxyHeader?: TrustedCertificateHeader;
}

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** Problems with the `mtls` options (empty when fine). */
export function mtlsProblems(options: MtlsOptions | undefined): string[] {
  if (options === undefined) return [];
  const header = options.trustedProxyHeader;
  if (header === undefined) return [];
  const problems: string[] = [];
  if (typeof header.name !== 'string' || !HEADER_NAME.test(header.name) || header.name === 'authorization') {
    problems.push('mtls.trustedProxyHeader.name must be a lower-case header name');
  }
  if (header.encoding !== 'pem-urlencoded' && header.encoding !== 'base64-der') {
    problems.push("mtls.trustedProxyHeader.encoding must be 'pem-urlencoded' or 'base64-der'");
  }
  return problems;
}

const mismatch = (message: string): BearerError => new BearerError('ERR_BEARER_CERTIFICATE_MISMATCH', message);

function headerCertificate(request: BearerRequestLike, header: TrustedCertificateHeader): Uint8Array | undefined {
  const value = request.header(header.name);
  if (value === undefined || value === '') return undefined;
  let base64: string;
  if (header.encoding === 'base64-der') {
    base64 = value;
  } else {
    let pem: string;
    try {
      pem = decodeURIComponent(value);
    } catch {
      return undefined;
    }
    const match = /^-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----\s*$/.exec(pem.trim());
    if (match === null) return undefined;
    base64 = (match[1] as string).replace(/\s+/g, '');
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return undefined;
  const der = Buffer.from(base64, 'base64');
  return der.length === 0 ? undefined : der;
}

/** The verification step for `cnf.x5t#S256`; always installed, so certificate-bound tokens fail closed. */
export function createMtlsStep(options: MtlsOptions | undefined): VerificationStep {
  const header = options?.trustedProxyHeader;
  return {
    name: 'mtls',
    handlesConfirmation: ['x5t#S256'],
    run(context) {
      const cnf = context.claims.cnf;
      if (!isJsonObject(cnf) || !Object.hasOwn(cnf, 'x5t#S256')) return;
      const expected = cnf['x5t#S256'];
      if (typeof expected !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(expected)) {
        throw invalidToken('The token\'s "cnf.x5t#S256" is not a SHA-256 thumbprint.');
      }
      const request = context.request;
      const certificate =
        request === undefined
          ? undefined
          : header !== undefined
            ? headerCertificate(request, header)
            : request.clientCertificate?.();
      if (certificate === undefined) {
        throw mismatch('The token is bound to a client certificate ("cnf.x5t#S256") but the request presented none.');
      }
      const actual = createHash('sha256').update(certificate).digest();
      const wanted = Buffer.from(expected, 'base64url');
      if (wanted.length !== actual.length || !timingSafeEqual(wanted, actual)) {
        throw mismatch('The client certificate does not match the token\'s "cnf.x5t#S256".');
      }
      context.setBinding({ type: 'mtls', thumbprint: expected });
    },
  };
}
