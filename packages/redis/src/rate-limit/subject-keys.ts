import { RateLimitError } from '../errors.ts';
import { hasLoneSurrogate, percentEncodeBraces } from '../hash-tag.ts';

/** Longest subject accepted, in UTF-16 code units. */
export const MAX_SUBJECT_LENGTH = 512;

/**
 * Whether `subject` is a usable subject: a non-empty, well-formed string (no lone UTF-16
 * surrogate) of at most 512 UTF-16 code units.
 */
export function isSubject(subject: unknown): subject is string {
  return (
    typeof subject === 'string' &&
    subject.length > 0 &&
    subject.length <= MAX_SUBJECT_LENGTH &&
    !hasLoneSurrogate(subject)
  );
}

/** Throws `ERR_RATE_LIMIT_INVALID_SUBJECT` unless `subject` is a usable subject. */
export function assertSubject(subject: unknown): asserts subject is string {
  if (!isSubject(subject)) {
    throw new RateLimitError(
      'ERR_RATE_LIMIT_INVALID_SUBJECT',
      `the subject must be a non-empty, well-formed string (no lone UTF-16 surrogate) of at most ${MAX_SUBJECT_LENGTH} characters (e.g. 'ip:203.0.113.7' or 'user:42').`,
    );
  }
}

/**
 * The Redis keys of one subject: its state hash and, when there is a concurrency limit, its lease
 * set. Both carry the same `{...}` hash tag, so they live in one Cluster slot by construction.
 */
export function subjectKeys(prefix: string, subject: string, withLeases: boolean): string[] {
  // Braces would end the hash tag early and could split one subject's keys over two slots
  // (CROSSSLOT on a Cluster), so they are percent-escaped inside the tag.
  const base = `${prefix}:{${percentEncodeBraces(subject)}}`;
  return withLeases ? [base, `${base}:leases`] : [base];
}
