const servers: Array<{ close(): void }> = [];
export function track(server: { close(): void }): void {
  servers.push(server);
}
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});
