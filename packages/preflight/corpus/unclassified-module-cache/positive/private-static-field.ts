export class TokenExchange {
  static #tokens = new Map<string, string>();
  static remember(req: { user: string; token: string }): void {
    this.#tokens.set(req.user, req.token);
  }
}
