export function check(token: string): boolean {
  return token === process.env.API_TOKEN;
}
