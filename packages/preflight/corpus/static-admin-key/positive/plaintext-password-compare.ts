export function login(user: { password: string }, password: string): boolean {
  return password === user.password;
}
