export const secret = Deno.env.get('GITHUB_CLIENT_SECRET') ?? 'dev-github-secret';
