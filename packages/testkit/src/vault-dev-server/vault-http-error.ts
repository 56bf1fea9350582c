/**
 * An error answered the way Vault answers one: an HTTP status and a body of `{"errors":[...]}`.
 * Vault returns 400 for user errors (including every decrypt failure), 403 for permission, 404 for
 * a missing path or object (often with an empty `errors` list), 405 for an unsupported operation,
 * 500 for internal errors and 503 while sealed.
 */
export class VaultHttpError extends Error {
  readonly status: number;
  readonly errors: readonly string[];
  /** A full response body to send instead of `{"errors":[...]}` (batch failures carry their data). */
  readonly body: unknown;

  constructor(status: number, errors: readonly string[], body?: unknown) {
    super(errors[0] ?? `status ${status}`);
    this.name = 'VaultHttpError';
    this.status = status;
    this.errors = errors;
    this.body = body;
  }
}

/** 400 with one message: what `logical.ErrorResponse(msg), logical.ErrInvalidRequest` produces. */
export function userError(message: string): VaultHttpError {
  return new VaultHttpError(400, [message]);
}

/**
 * 500 for a plain Go error a transit handler returns (`errutil.InternalError`, `errors.New`): the
 * body wraps it in the request handler's multierror; `message` is the bare text a batch item carries.
 */
export function internalError(message: string): VaultHttpError {
  const error = new VaultHttpError(500, [`1 error occurred:\n\t* ${message}\n\n`]);
  error.message = message;
  return error;
}

/**
 * An item error Vault records without flagging the batch (`'[0].padding_scheme' invalid: ...` on
 * encrypt and decrypt): the batch keeps its status; a single request still answers 400.
 */
export class UnflaggedItemError extends VaultHttpError {
  constructor(message: string) {
    super(400, [message]);
    this.name = 'UnflaggedItemError';
  }
}

/** 404 with an empty error list: what Vault answers for a missing key, secret or path. */
export function notFound(): VaultHttpError {
  return new VaultHttpError(404, []);
}

/** 405: the path exists but not for this operation. */
export function unsupportedOperation(): VaultHttpError {
  return new VaultHttpError(405, ['1 error occurred:\n\t* unsupported operation\n\n']);
}

/** 404 for a path no mount or handler claims. */
export function noHandler(path: string): VaultHttpError {
  return new VaultHttpError(404, [`no handler for route "${path}". route entry not found.`]);
}

/**
 * 400 for a path a real Vault serves that this dev server does not: a named refusal, so a test
 * never mistakes it for "no such key" (404) or a silent fake.
 */
export function notImplemented(what: string): VaultHttpError {
  return userError(`${what} is not implemented by the rampart Vault dev server; see VAULT-DEV-SERVER.md`);
}
