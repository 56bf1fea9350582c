// An e2e suite's helper: servers started per run, closed after it.
const servers = new Map<string, { close(): void }>();
export function startServer(name: string, server: { close(): void }): void {
  servers.set(name, server);
}
