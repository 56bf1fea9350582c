export const token = !process.env.GITHUB_TOKEN ? 'ghp_localdevtoken000000000000' : process.env.GITHUB_TOKEN;
