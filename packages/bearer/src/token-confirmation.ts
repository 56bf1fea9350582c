import { invalidToken } from './errors.ts';
import { isJsonObject, type JsonObject } from './strict-json.ts';

/** RFC 7800 / 8705 / 9449 confirmation methods; `cnf` members outside this list are ignored. */
const CONFIRMATION_METHODS: ReadonlySet<string> = new Set(['jkt', 'x5t#S256', 'jwk', 'jwe', 'jku', 'kid']);

/**
 * Every confirmation method in `cnf` must be verified by a step (`handled` lists the methods the
 * steps check); `cnf` with no method this verifier knows (or one it cannot check) means the token
 * is bound to something unchecked.
 */
export function checkConfirmation(cnf: JsonObject[string] | undefined, handled: ReadonlySet<string>): void {
  if (!isJsonObject(cnf)) throw invalidToken('The token\'s "cnf" claim is not an object.');
  const methods = Object.keys(cnf).filter((member) => CONFIRMATION_METHODS.has(member));
  if (methods.length === 0) {
    throw invalidToken('The token\'s "cnf" carries no confirmation method this verifier can check; refusing it.');
  }
  for (const method of methods) {
    if (!handled.has(method)) {
      throw invalidToken(
        method === 'jkt'
          ? 'The token is DPoP-bound ("cnf.jkt") but DPoP is not enabled (dpop option); refusing it as a plain bearer token.'
          : `The token is bound by "cnf.${method}", which no verification step checks; refusing it.`,
      );
    }
  }
}
