// Salts are public: comparing one with a sentinel is no timing leak.
const EMPTY_SALT = new Uint8Array(16);
export function hasSalt(salt: Uint8Array): boolean {
  return salt !== EMPTY_SALT;
}
