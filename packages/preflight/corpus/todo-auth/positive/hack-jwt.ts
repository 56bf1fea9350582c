export async function verify(token: string) {
  // HACK skip signature check in staging
  return decodeJwt(token);
}
