const created: string[] = [];
export function createUser(req: { body: { id: string } }): void {
  created.push(req.body.id);
}
