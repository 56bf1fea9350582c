export class Client {
  /** @deprecated prefer request() */
  get(): void {}
}
