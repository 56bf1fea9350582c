import { jwtVerify } from 'jose';
export async function auth(token: string, key: CryptoKey) {
  const { payload } = await jwtVerify(token, key, { audience: 'api' });
  return payload.scope === 'admin:write';
}
