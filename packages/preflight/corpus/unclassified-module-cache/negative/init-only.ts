const codes = new Map<string, number>();
for (const [name, code] of Object.entries({ ok: 200, notFound: 404 })) codes.set(name, code);
export function status(name: string): number | undefined {
  return codes.get(name);
}
