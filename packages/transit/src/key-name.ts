const KEY_NAME = /^\w(?:[\w.-]*\w)?$/;
const MOUNT_SEGMENT = /^[\w.-]+$/;
const DOTS = /^\.+$/;

/**
 * A transit key name as options accept it: letters, digits, `_`, `-` and `.`, at most 255 bytes.
 * Envelopes naming anything else are not envelopes this package wrote (see `parseHead`).
 */
export function isKeyName(key: unknown): key is string {
  return typeof key === 'string' && Buffer.byteLength(key) <= 255 && KEY_NAME.test(key);
}

/**
 * A mount path as options accept it: `/`-separated segments of letters, digits, `_`, `-` and `.`,
 * none of them only dots (a `..` segment would lead the request out of the mount).
 */
export function isMountPath(mount: unknown): mount is string {
  return (
    typeof mount === 'string' &&
    Buffer.byteLength(mount) <= 255 &&
    mount.split('/').every((segment) => MOUNT_SEGMENT.test(segment) && !DOTS.test(segment))
  );
}
